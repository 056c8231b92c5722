/* The sound map: a canvas scatter of the shown lookup points (hand-written, no library). */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("data").textContent);
  var canvas = document.getElementById("plot"), ctx = canvas.getContext("2d");
  var player = document.getElementById("player"), tip = document.getElementById("tip");
  var $ = function (id) { return document.getElementById(id); };
  var n = data.points.length, columns = data.columns, nParams = data.params.length;
  var state = { projection: data.projections_order[0], colour: 0, track: data.default_track || "",
                hover: -1, playing: -1, draws: 0 };
  var PAD = 22, RADIUS = 4.5, PICK = 10;
  var VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

  function ramp(t) {
    if (!(t >= 0)) t = 0; if (t > 1) t = 1;
    var x = t * (VIRIDIS.length - 1), i = Math.min(Math.floor(x), VIRIDIS.length - 2), f = x - i;
    var a = VIRIDIS[i], b = VIRIDIS[i + 1];
    return "rgb(" + [0, 1, 2].map(function (k) { return Math.round(a[k] + f * (b[k] - a[k])); }).join(",") + ")";
  }
  function fmt(v) {
    if (v === null || v === undefined) return "–";
    var a = Math.abs(v);
    return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(2) : (Math.round(v * 1000) / 1000).toString();
  }
  function option(select, value, text) {
    var o = document.createElement("option"); o.value = value; o.textContent = text; select.appendChild(o);
  }

  // --- layout ------------------------------------------------------------------------------
  var box = null;
  function bounds() {
    var xy = data.projections[state.projection], b = [Infinity, -Infinity, Infinity, -Infinity];
    for (var i = 0; i < n; i++) {
      b[0] = Math.min(b[0], xy[i][0]); b[1] = Math.max(b[1], xy[i][0]);
      b[2] = Math.min(b[2], xy[i][1]); b[3] = Math.max(b[3], xy[i][1]);
    }
    return b;
  }
  function screen(i) {
    var xy = data.projections[state.projection][i], w = canvas.clientWidth, h = canvas.clientHeight;
    var sx = (box[1] - box[0]) || 1, sy = (box[3] - box[2]) || 1;
    return [PAD + (xy[0] - box[0]) / sx * (w - 2 * PAD), h - PAD - (xy[1] - box[2]) / sy * (h - 2 * PAD)];
  }

  // --- drawing -----------------------------------------------------------------------------
  function colourRange() {
    var lo = Infinity, hi = -Infinity;
    for (var i = 0; i < n; i++) { var v = data.points[i][state.colour]; if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); } }
    return [lo, hi];
  }
  function drawPath(indices, colour, width) {
    if (!indices || indices.length < 2) return;
    ctx.strokeStyle = colour; ctx.lineWidth = width; ctx.globalAlpha = 0.55; ctx.beginPath();
    for (var k = 0; k < indices.length; k++) {
      var p = screen(indices[k]); if (k === 0) ctx.moveTo(p[0], p[1]); else ctx.lineTo(p[0], p[1]);
    }
    ctx.stroke(); ctx.globalAlpha = 1;
  }
  function draw() {
    var ratio = window.devicePixelRatio || 1, w = canvas.clientWidth, h = canvas.clientHeight;
    canvas.width = Math.round(w * ratio); canvas.height = Math.round(h * ratio);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.fillStyle = "#ffffff"; ctx.fillRect(0, 0, w, h);
    box = bounds();
    var paths = data.tracks[state.track];
    if (paths) {
      if ($("show-musician").checked) drawPath(paths.musician, "#1c7ed6", 1.3);
      if ($("show-agent").checked) drawPath(paths.agent, "#d9480f", 1.3);
    }
    var range = colourRange(), span = (range[1] - range[0]) || 1;
    for (var i = 0; i < n; i++) {
      var p = screen(i), v = data.points[i][state.colour];
      ctx.beginPath(); ctx.arc(p[0], p[1], RADIUS, 0, 2 * Math.PI);
      ctx.fillStyle = v === null ? "#bbbbbb" : ramp((v - range[0]) / span); ctx.fill();
    }
    [state.hover, state.playing].forEach(function (i, k) {
      if (i < 0) return;
      var p = screen(i); ctx.beginPath(); ctx.arc(p[0], p[1], RADIUS + 3, 0, 2 * Math.PI);
      ctx.lineWidth = 2; ctx.strokeStyle = k === 0 ? "#1d1d1f" : "#d9480f"; ctx.stroke();
    });
    $("lo").textContent = fmt(range[0]); $("hi").textContent = fmt(range[1]);
    state.draws += 1;
    canvas.dataset.draws = String(state.draws); canvas.dataset.projection = state.projection;
    canvas.dataset.points = String(n);
  }
  function drawColourbar() {
    var bar = $("colourbar"), c = bar.getContext("2d");
    for (var x = 0; x < bar.width; x++) { c.fillStyle = ramp(x / (bar.width - 1)); c.fillRect(x, 0, 1, bar.height); }
  }

  // --- interaction -------------------------------------------------------------------------
  function nearest(event) {
    var r = canvas.getBoundingClientRect(), mx = event.clientX - r.left, my = event.clientY - r.top;
    var best = -1, bestD = PICK * PICK;
    for (var i = 0; i < n; i++) {
      var p = screen(i), d = (p[0] - mx) * (p[0] - mx) + (p[1] - my) * (p[1] - my);
      if (d <= bestD) { best = i; bestD = d; }
    }
    return best;
  }
  function describe(i) {
    var row = data.points[i], html = "<h3>point " + (i + 1) + " of " + n + " (table row " + data.rows[i] + ")</h3><dl>";
    for (var k = 0; k < columns.length; k++) {
      if (k === nParams) html += "</dl><h3>descriptors (mean)</h3><dl>";
      html += "<dt>" + columns[k] + "</dt><dd>" + fmt(row[k]) + "</dd>";
    }
    $("info").innerHTML = html + "</dl>";
  }
  function play(i) {
    state.playing = i;
    player.src = data.clips[i];
    var values = data.params.map(function (name, k) { return name + " " + fmt(data.points[i][k]); }).join(", ");
    $("status").textContent = "playing point " + (i + 1) + ": " + values;
    var started = player.play();
    if (started && started.catch) started.catch(function (err) { $("status").textContent = "could not play " + data.clips[i] + ": " + err.message; });
    draw();
  }
  canvas.addEventListener("mousemove", function (event) {
    var i = nearest(event);
    if (i !== state.hover) { state.hover = i; if (i >= 0) describe(i); draw(); }
    if (i >= 0) {
      tip.style.display = "block"; tip.style.left = (event.clientX + 14) + "px"; tip.style.top = (event.clientY + 10) + "px";
      tip.textContent = data.params.map(function (name, k) { return name + " = " + fmt(data.points[i][k]); }).join("\n") +
        "\n" + columns[state.colour] + " = " + fmt(data.points[i][state.colour]);
    } else { tip.style.display = "none"; }
  });
  canvas.addEventListener("mouseleave", function () { tip.style.display = "none"; state.hover = -1; draw(); });
  canvas.addEventListener("click", function (event) { var i = nearest(event); if (i >= 0) play(i); });

  // --- controls ----------------------------------------------------------------------------
  $("title").textContent = "Sound map of " + data.synth;
  $("subtitle").textContent = data.description + " — " + n + " points shown of " + data.table_rows +
    " in the lookup table; click a point to hear it (" + data.clip_s + " s).";
  data.projections_order.forEach(function (name) { option($("projection"), name, name); });
  columns.forEach(function (name, k) { option($("colour"), String(k), name); });
  option($("track"), "", "none");
  Object.keys(data.tracks).forEach(function (name) {
    option($("track"), name, name + (data.heldout.indexOf(name) >= 0 ? " (held out)" : ""));
  });
  $("track").value = state.track;
  $("notes").innerHTML = data.notes.map(function (t) { var p = document.createElement("p"); p.textContent = t; return p.outerHTML; }).join("");
  $("projection").addEventListener("change", function (e) { state.projection = e.target.value; draw(); });
  $("colour").addEventListener("change", function (e) { state.colour = Number(e.target.value); draw(); });
  $("track").addEventListener("change", function (e) { state.track = e.target.value; draw(); });
  $("show-musician").addEventListener("change", draw);
  $("show-agent").addEventListener("change", draw);
  window.addEventListener("resize", draw);
  drawColourbar();
  draw();
  window.rlimproMap = { points: n, screen: function (i) { return screen(i); }, play: play,
                        state: function () { return { projection: state.projection, draws: state.draws, playing: state.playing }; } };
})();

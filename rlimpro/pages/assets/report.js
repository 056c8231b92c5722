/* The run report: run summary, duet with synced playhead, evaluation table, training curves. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("data").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var charts = rlimproCharts;
  function text(tag, content, cls) { var e = document.createElement(tag); e.textContent = content; if (cls) e.className = cls; return e; }
  function fmt(v) {
    if (v === null || v === undefined) return "–";
    if (typeof v !== "number") return Array.isArray(v) ? v.join(", ") : String(v);
    if (Number.isInteger(v)) return String(v);
    var a = Math.abs(v);
    return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(2) : v.toFixed(3);
  }

  $("title").textContent = "Run report: " + data.synth;
  $("subtitle").textContent = data.description;
  $("notes").innerHTML = "";
  data.notes.forEach(function (t) { $("notes").appendChild(text("p", t)); });

  // --- run summary -------------------------------------------------------------------------
  if (data.run) {
    var dl = document.createElement("dl");
    dl.appendChild(text("dt", "run")); dl.appendChild(text("dd", data.run.path));
    Object.keys(data.run.summary).forEach(function (k) { dl.appendChild(text("dt", k)); dl.appendChild(text("dd", fmt(data.run.summary[k]))); });
    $("run").appendChild(dl);
  } else { $("run").appendChild(text("p", "No run to show.", "missing")); }

  // --- duet ----------------------------------------------------------------------------------
  var cursors = [];
  if (data.duet) {
    var duet = data.duet, box = $("duet");
    box.appendChild(text("p", duet.take + " (" + duet.seconds.toFixed(1) + " s): the musician on the left channel, the agent on the right. Click a plot to jump there."));
    var audio = document.createElement("audio");
    audio.id = "player"; audio.controls = true; audio.preload = "auto"; audio.src = duet.src;
    box.appendChild(audio);
    var seek = function (t) { audio.currentTime = t; };
    charts.legend(box, [{ name: "musician (target)", colour: charts.COLOURS[0] }, { name: "agent", colour: charts.COLOURS[1] }]);
    var grid = document.createElement("div"); grid.className = "charts"; box.appendChild(grid);
    duet.features.forEach(function (name, k) {
      cursors.push(charts.lineChart(grid, { title: name, x: duet.time, cursor: true, onSeek: seek,
        series: [{ name: "musician", y: duet.musician[k], colour: charts.COLOURS[0] }, { name: "agent", y: duet.agent[k], colour: charts.COLOURS[1] }] }));
    });
    cursors.push(charts.lineChart(grid, { title: "agent's parameters (" + duet.param_names.join(", ") + ")", x: duet.time, cursor: true, onSeek: seek,
      series: duet.param_names.map(function (name, k) { return { name: name, y: duet.params[k] }; }) }));
    charts.legend(box, duet.param_names.map(function (name) { return { name: "parameter " + name }; }));
    var follow = function () { cursors.forEach(function (c) { c.setCursor(audio.currentTime); }); };
    var tick = function () { follow(); if (!audio.paused) window.requestAnimationFrame(tick); };
    audio.addEventListener("play", tick);
    audio.addEventListener("timeupdate", follow);
    audio.addEventListener("seeked", follow);
  } else { $("duet").appendChild(text("p", "No duet to play.", "missing")); }

  // --- evaluation ----------------------------------------------------------------------------
  var ev = $("evaluation");
  if (data.metrics && data.metrics.overall) {
    var overall = data.metrics.overall, policies = Object.keys(overall), keys = [];
    policies.forEach(function (p) { Object.keys(overall[p]).forEach(function (k) { if (keys.indexOf(k) < 0) keys.push(k); }); });
    var table = document.createElement("table"), head = document.createElement("tr");
    head.appendChild(text("th", "policy"));
    keys.forEach(function (k) { head.appendChild(text("th", k)); });
    if (data.ratios) head.appendChild(text("th", "× oracle"));
    table.appendChild(head);
    var best = {};
    keys.filter(function (k) { return k.indexOf("nrmse") === 0; }).forEach(function (k) {
      best[k] = Math.min.apply(null, policies.filter(function (p) { return p !== "oracle" && typeof overall[p][k] === "number"; }).map(function (p) { return overall[p][k]; }));
    });
    policies.forEach(function (p) {
      var tr = document.createElement("tr"); if (p === "agent") tr.className = "agent";
      tr.appendChild(text("td", p));
      keys.forEach(function (k) { tr.appendChild(text("td", fmt(overall[p][k]), best[k] === overall[p][k] && p !== "oracle" ? "best" : "")); });
      if (data.ratios) tr.appendChild(text("td", fmt(data.ratios[p])));
      table.appendChild(tr);
    });
    table.id = "metrics"; ev.appendChild(table);
    ev.appendChild(text("p", "Bold: the lowest error among the policies that move one step at a time (the oracle jumps freely).", "missing"));
    if (data.metrics.per_feature) {
      var details = document.createElement("details"); details.appendChild(text("summary", "nRMSE per feature"));
      var t2 = document.createElement("table"), h2 = document.createElement("tr"); h2.appendChild(text("th", "feature"));
      policies.forEach(function (p) { h2.appendChild(text("th", p)); }); t2.appendChild(h2);
      Object.keys(data.metrics.per_feature).forEach(function (f) {
        var tr = document.createElement("tr"); tr.appendChild(text("td", f));
        policies.forEach(function (p) { tr.appendChild(text("td", fmt(data.metrics.per_feature[f][p]))); }); t2.appendChild(tr);
      });
      details.appendChild(t2); ev.appendChild(details);
    }
  } else { ev.appendChild(text("p", "No evaluation to show.", "missing")); }
  if (data.plots.length) {
    var links = text("p", "Evaluation plots: ");
    data.plots.forEach(function (href, k) { var a = text("a", href.split("/").pop()); a.href = href; if (k) links.appendChild(document.createTextNode(", ")); links.appendChild(a); });
    ev.appendChild(links);
  }

  // --- training curves -----------------------------------------------------------------------
  var tags = Object.keys(data.curves);
  if (tags.length) {
    var cg = document.createElement("div"); cg.className = "charts"; $("curves").appendChild(cg);
    tags.forEach(function (tag) {
      var pts = data.curves[tag];
      charts.lineChart(cg, { title: tag + " (by step)", x: pts.map(function (p) { return p[0]; }), series: [{ name: tag, y: pts.map(function (p) { return p[1]; }) }] });
    });
  } else { $("curves").appendChild(text("p", "No training curves to show.", "missing")); }

  window.rlimproReport = { charts: document.querySelectorAll(".chart").length, duet: !!data.duet, curves: tags.length,
                           cursor: function () { return cursors.length ? cursors[0].svg.querySelector(".playhead").getAttribute("x1") : null; } };
})();

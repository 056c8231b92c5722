/* Small SVG line charts (hand-written, no library): lineChart(parent, spec) -> {svg, setCursor(x)}. */
var rlimproCharts = (function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var COLOURS = ["#1c7ed6", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285", "#c2255c", "#5c940d"];
  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }
  function fmt(v) {
    var a = Math.abs(v);
    return a !== 0 && (a >= 1e4 || a < 1e-2) ? v.toExponential(1) : String(Math.round(v * 100) / 100);
  }
  /* spec: {title, x: [..], series: [{name, y: [..], colour?, dash?}], cursor: bool, onSeek: fn(x)} */
  function lineChart(parent, spec) {
    var W = 360, H = 150, L = 46, R = 8, T = 18, B = 20;
    var box = document.createElement("div"); box.className = "chart" + (spec.onSeek ? " seekable" : "");
    parent.appendChild(box);
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": spec.title }, box);
    var xs = spec.x, x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    var y0 = Infinity, y1 = -Infinity;
    spec.series.forEach(function (s) { s.y.forEach(function (v) { if (v !== null) { y0 = Math.min(y0, v); y1 = Math.max(y1, v); } }); });
    if (!(y1 > y0)) { y0 -= 1; y1 += 1; }
    if (!(x1 > x0)) { x1 = x0 + 1; }
    var sx = function (x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
    var sy = function (y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); };
    el("rect", { x: L, y: T, width: W - L - R, height: H - T - B, fill: "#fff", stroke: "#d8d8dc" }, svg);
    el("text", { x: L, y: 12 }, svg).textContent = spec.title;
    el("text", { x: L - 4, y: T + 8, "text-anchor": "end" }, svg).textContent = fmt(y1);
    el("text", { x: L - 4, y: H - B, "text-anchor": "end" }, svg).textContent = fmt(y0);
    el("text", { x: L, y: H - 6 }, svg).textContent = fmt(x0);
    el("text", { x: W - R, y: H - 6, "text-anchor": "end" }, svg).textContent = fmt(x1);
    spec.series.forEach(function (s, k) {
      var d = "", pen = false;
      for (var i = 0; i < xs.length; i++) {
        var v = s.y[i];
        if (v === null) { pen = false; continue; }
        d += (pen ? "L" : "M") + sx(xs[i]).toFixed(1) + " " + sy(v).toFixed(1); pen = true;
      }
      el("path", { d: d, fill: "none", stroke: s.colour || COLOURS[k % COLOURS.length], "stroke-width": 1.2,
                   "stroke-dasharray": s.dash || "none" }, svg);
    });
    var cursor = null;
    if (spec.cursor) cursor = el("line", { x1: L, x2: L, y1: T, y2: H - B, stroke: "#1d1d1f", "stroke-width": 1, "class": "playhead" }, svg);
    if (spec.onSeek) {
      svg.addEventListener("click", function (event) {
        var r = svg.getBoundingClientRect(), px = (event.clientX - r.left) / r.width * W;
        spec.onSeek(x0 + Math.min(Math.max((px - L) / (W - L - R), 0), 1) * (x1 - x0));
      });
    }
    return {
      svg: svg,
      setCursor: function (x) { if (cursor) { var p = sx(Math.min(Math.max(x, x0), x1)).toFixed(1); cursor.setAttribute("x1", p); cursor.setAttribute("x2", p); } }
    };
  }
  function legend(parent, entries) {
    var div = document.createElement("div"); div.className = "legend";
    entries.forEach(function (e, k) {
      var span = document.createElement("span"), swatch = document.createElement("i");
      swatch.style.background = e.colour || COLOURS[k % COLOURS.length];
      span.appendChild(swatch); span.appendChild(document.createTextNode(e.name)); div.appendChild(span);
    });
    parent.appendChild(div);
  }
  return { lineChart: lineChart, legend: legend, COLOURS: COLOURS };
})();

/**
 * The live view's page: one self-contained HTML document (no framework, no external asset, so it works with
 * nothing but the service's own HTTP server). It polls the JSON snapshot once a second and draws the score
 * chart as SVG. User data (entity names, feature names) is only ever set as text, never as markup.
 * Grafana stays the production view; this is for the demo and for watching one instance.
 */
export function livePage(dataUrl: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Vigil · live</title>
<style>
  :root { --fg: #1d2330; --muted: #6b7280; --line: #e5e7eb; --score: #2563eb; --band: #bfdbfe; --thr: #dc2626; --bg: #f8fafc; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 "DejaVu Sans", system-ui, sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; align-items: baseline; gap: 16px; padding: 12px 20px; background: #111827; color: #f9fafb; }
  header h1 { font-size: 18px; margin: 0; }
  header .status { color: #9ca3af; font-size: 12px; margin-left: auto; }
  header .model { color: #e5e7eb; font-size: 13px; }
  main { padding: 16px 20px; display: grid; gap: 16px; grid-template-columns: repeat(4, 1fr); }
  .card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; }
  .card h2 { font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 6px; }
  .figure { font-size: 24px; font-weight: 600; }
  .wide { grid-column: 1 / -1; }
  .half { grid-column: span 2; }
  svg text { font: 11px "DejaVu Sans", sans-serif; fill: var(--muted); }
  table { width: 100%; border-collapse: collapse; font-size: 13px; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { color: var(--muted); font-weight: 600; font-size: 12px; }
  td.num { font-variant-numeric: tabular-nums; }
  td.entity, td.span { white-space: nowrap; }
  .state-open { color: var(--thr); font-weight: 600; }
  .state-closed { color: var(--muted); }
  .empty { color: var(--muted); font-style: italic; }
  .legend span { margin-right: 14px; font-size: 12px; }
  .sw { display: inline-block; width: 18px; height: 3px; vertical-align: middle; margin-right: 4px; }
</style>
</head>
<body>
<header><h1>Vigil · live</h1><span class="model" data-testid="model" id="model">model –</span><span class="status" id="status">connecting…</span></header>
<main>
  <section class="card"><h2>Records scored / s</h2><div class="figure" data-testid="throughput" id="throughput">–</div></section>
  <section class="card"><h2>Scored · anomalies</h2><div class="figure" id="totals">–</div></section>
  <section class="card"><h2>Threshold in force</h2><div class="figure" data-testid="threshold" id="threshold">–</div></section>
  <section class="card"><h2>Consumer lag (records)</h2><div class="figure" data-testid="lag" id="lag">–</div></section>
  <section class="card wide">
    <h2>Anomaly score against the threshold, per second</h2>
    <div class="legend"><span><i class="sw" style="background:var(--score)"></i>typical score (geometric mean)</span><span><i class="sw" style="background:var(--band);height:8px"></i>min–max</span><span><i class="sw" style="background:var(--thr)"></i>threshold</span><span><i class="sw" style="background:var(--thr);width:8px;height:8px;border-radius:4px"></i>second with anomalies</span><span><i class="sw" style="background:#fde68a;height:10px"></i>incident, from its opening to its latest event (one lane each)</span></div>
    <svg id="chart" data-testid="chart" viewBox="0 0 1000 300" width="100%" role="img" aria-label="scores against the threshold"></svg>
  </section>
  <section class="card half">
    <h2>Incidents</h2>
    <table><thead><tr><th>state</th><th>entity</th><th>anomalies</th><th>peak severity</th><th>peak score</th><th>top features</th><th>event time (UTC)</th></tr></thead>
    <tbody id="incidents"></tbody></table>
  </section>
  <section class="card half">
    <h2>Latest anomalies</h2>
    <table><thead><tr><th>detected</th><th>entity</th><th>score</th><th>severity</th><th>top features (value vs expected)</th></tr></thead>
    <tbody id="anomalies"></tbody></table>
  </section>
  <section class="card wide">
    <h2>Lag by partition</h2>
    <table><thead><tr><th>topic</th><th>partition</th><th>lag</th></tr></thead><tbody id="lag-partitions"></tbody></table>
  </section>
</main>
<script>
"use strict";
var DATA_URL = ${JSON.stringify(dataUrl).replace(/</g, '\\u003c')};
var SVG_NS = "http://www.w3.org/2000/svg";
function el(tag, attrs, children) {
  var e = tag.indexOf("svg:") === 0 ? document.createElementNS(SVG_NS, tag.slice(4)) : document.createElement(tag);
  for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
  (children || []).forEach(function (c) { e.append(c instanceof Node ? c : document.createTextNode(String(c))); });
  return e;
}
function num(v) {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  var a = Math.abs(v);
  if (a !== 0 && (a < 0.01 || a >= 1e5)) return v.toExponential(2);
  return a >= 100 ? v.toFixed(0) : v.toPrecision(3);
}
// Most anomalies first: a failure that lasts ranks above a lone false alarm.
function byCount(list) { return list.slice().sort(function (a, b) { return b.count - a.count; }); }
function clock(ms) { return new Date(ms).toISOString().slice(11, 19); }
// In the table, the end under the start: the column stays narrow.
function spanCell(i) {
  var parts = span(i).split(" – ");
  return parts.length === 1 ? parts : [parts[0], el("br"), "– " + parts[1]];
}
function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }
// An incident's event-time span: its first to its latest anomaly (the day only when it differs from the end's).
function span(i) {
  var a = new Date(i.start).toISOString(), b = new Date(i.end).toISOString();
  if (i.start === i.end) return a.slice(11, 19);
  return (a.slice(0, 10) === b.slice(0, 10) ? a.slice(11, 19) : a.slice(5, 19).replace("T", " ")) + " – " + b.slice(11, 19);
}
function fill(tbody, rows, cols, emptyText) {
  tbody.replaceChildren();
  if (rows.length === 0) { tbody.append(el("tr", {}, [el("td", { colspan: String(cols), class: "empty" }, [emptyText])])); return; }
  rows.forEach(function (r) { tbody.append(r); });
}
function drawChart(svg, snap) {
  svg.replaceChildren();
  // The incidents with the most anomalies get a lane each above the plot: entity, and its open span in time.
  var lanes = byCount(snap.incidents.open.concat(snap.incidents.closed)).slice(0, 4);
  var W = 1000, H = 300 + lanes.length * 16, L = 100, R = 10, T = 10 + lanes.length * 16, B = 40;
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  var s = snap.series;
  svg.setAttribute("data-points", String(s.length));
  svg.setAttribute("data-threshold", snap.threshold === null ? "" : String(snap.threshold));
  if (s.length === 0) { svg.append(el("svg:text", { x: String(W / 2 - 80), y: String(H / 2) }, ["waiting for scores…"])); return; }
  var t1 = Math.floor(snap.now / 1000) * 1000;
  // From the first second with scores (at least a minute), so a young service's data is not squeezed to the edge.
  var t0 = Math.max(t1 - (snap.historySeconds - 1) * 1000, Math.min(s[0].t - 2000, t1 - 60000));
  var lo = Infinity, hi = 0;
  s.forEach(function (b) { lo = Math.min(lo, b.min, b.threshold); hi = Math.max(hi, b.max, b.threshold); });
  var y0 = Math.floor(Math.log10(lo)), y1 = Math.ceil(Math.log10(hi));
  if (y1 <= y0) y1 = y0 + 1;
  function x(t) { return L + ((t - t0) / Math.max(1, t1 - t0)) * (W - L - R); }
  function y(v) { return T + (1 - (Math.log10(v) - y0) / (y1 - y0)) * (H - T - B); }
  for (var d = y0; d <= y1; d++) {
    svg.append(el("svg:line", { x1: String(L), x2: String(W - R), y1: String(y(Math.pow(10, d))), y2: String(y(Math.pow(10, d))), stroke: "#e5e7eb" }));
    svg.append(el("svg:text", { x: String(L - 6), y: String(y(Math.pow(10, d)) + 4), "text-anchor": "end" }, [num(Math.pow(10, d))]));
  }
  svg.append(el("svg:text", { x: "12", y: String((T + H - B) / 2), transform: "rotate(-90 12 " + (T + H - B) / 2 + ")", "text-anchor": "middle", style: "fill:#1d2330" }, ["score (log scale)"]));
  svg.append(el("svg:text", { x: String((L + W - R) / 2), y: String(H - 2), "text-anchor": "middle", style: "fill:#1d2330" }, ["time scored (UTC)"]));
  // Incidents as bands from their opening to their latest event, both wall clock (the x axis is time scored; the
  // label carries their event-time span, which differs from it on a replay).
  lanes.forEach(function (i, n) {
    var a = Math.max(t0, i.openedAt - 500), b = Math.min(t1, (i.state === "open" ? snap.now : i.updatedAt) + 500);
    if (b <= a) return;
    var yy = 6 + n * 16;
    svg.append(el("svg:rect", { x: String(x(a)), y: String(T), width: String(Math.max(2, x(b) - x(a))), height: String(H - T - B), fill: "#fde68a", opacity: "0.25" }));
    svg.append(el("svg:rect", { "data-testid": "incident-band", x: String(x(a)), y: String(yy), width: String(Math.max(2, x(b) - x(a))), height: "12", rx: "3", fill: i.state === "open" ? "#f59e0b" : "#d1d5db" }));
    svg.append(el("svg:text", { x: String(L - 6), y: String(yy + 10), "text-anchor": "end", style: "fill:#1d2330" }, [i.entity]));
    // The label beside its band, on the side with room (a young incident's band is at the right edge).
    var right = x(a) < (L + W - R) / 2;
    svg.append(el("svg:text", { x: String(right ? x(b) + 4 : x(a) - 4), y: String(yy + 10), "text-anchor": right ? "start" : "end", style: "fill:#1d2330" }, ["incident · " + plural(i.count, "anomaly", "anomalies") + (i.peakScore === null ? "" : " · peak " + num(i.peakScore)) + " · " + span(i)]));
  });
  for (var k = 0; k <= 5; k++) {
    var tt = t0 + (k * (t1 - t0)) / 5;
    svg.append(el("svg:text", { x: String(x(tt)), y: String(H - 20), "text-anchor": k === 0 ? "start" : k === 5 ? "end" : "middle" }, [clock(tt)]));
  }
  var upper = s.map(function (b) { return x(b.t) + "," + y(b.max); });
  var lower = s.slice().reverse().map(function (b) { return x(b.t) + "," + y(b.min); });
  svg.append(el("svg:polygon", { points: upper.concat(lower).join(" "), fill: "#bfdbfe", opacity: "0.7" }));
  svg.append(el("svg:polyline", { "data-testid": "score-line", class: "scores", points: s.map(function (b) { return x(b.t) + "," + y(b.typical); }).join(" "), fill: "none", stroke: "#2563eb", "stroke-width": "2" }));
  svg.append(el("svg:polyline", { "data-testid": "threshold-line", class: "threshold", points: s.map(function (b) { return x(b.t) + "," + y(b.threshold); }).join(" "), fill: "none", stroke: "#dc2626", "stroke-width": "2", "stroke-dasharray": "6 4" }));
  var last = s[s.length - 1];
  svg.append(el("svg:text", { x: String(L + 6), y: String(y(last.threshold) - 6), style: "fill:#dc2626;font-weight:600" }, ["threshold " + num(last.threshold)]));
  s.forEach(function (b) {
    if (b.anomalies > 0) svg.append(el("svg:circle", { "data-testid": "anomaly-mark", cx: String(x(b.t)), cy: String(y(b.max)), r: "4", fill: "#dc2626" }));
  });
}
function render(snap) {
  document.getElementById("model").textContent = snap.model === null ? "model –" : "model " + snap.model.id + " · version " + snap.model.version + " · backend " + snap.model.backend;
  document.getElementById("throughput").textContent = num(snap.throughput.recordsPerSecond);
  document.getElementById("totals").textContent = snap.throughput.scored + " · " + snap.throughput.anomalies;
  document.getElementById("threshold").textContent = num(snap.threshold);
  document.getElementById("lag").textContent = snap.lag.total === null ? "–" : String(snap.lag.total);
  drawChart(document.getElementById("chart"), snap);
  var incidents = byCount(snap.incidents.open).concat(byCount(snap.incidents.closed)).map(function (i) {
    return el("tr", { "data-testid": "incident-row", "data-state": i.state, "data-id": i.id, "data-start": String(i.start), "data-end": String(i.end) }, [
      el("td", { class: "state-" + i.state }, [i.state]), el("td", { class: "entity" }, [i.entity]), el("td", { class: "num" }, [i.count]),
      el("td", { class: "num" }, [num(i.peakSeverity)]), el("td", { class: "num" }, [num(i.peakScore)]),
      el("td", {}, [i.topFeatures.slice(0, 3).join(", ")]), el("td", { class: "span" }, spanCell(i)),
    ]);
  });
  fill(document.getElementById("incidents"), incidents, 7, snap.incidents.tracking ? "no incidents" : "incident tracking is off (output.incidents.enabled: false)");
  var anomalies = snap.anomalies.slice(0, 12).map(function (a) {
    return el("tr", { "data-testid": "anomaly-row" }, [
      el("td", {}, [clock(a.detectedAt)]), el("td", { class: "entity" }, [a.entity]), el("td", { class: "num" }, [num(a.score) + " > " + num(a.threshold)]),
      el("td", { class: "num" }, [num(a.severity)]),
      el("td", {}, [a.top.map(function (c) { return c.feature + " " + Math.round(c.share * 100) + "% (" + num(c.value) + " vs " + num(c.expected) + ")"; }).join(", ")]),
    ]);
  });
  fill(document.getElementById("anomalies"), anomalies, 5, "no anomalies yet");
  fill(document.getElementById("lag-partitions"), snap.lag.partitions.map(function (p) {
    return el("tr", {}, [el("td", {}, [p.topic]), el("td", { class: "num" }, [p.partition]), el("td", { class: "num" }, [p.lag])]);
  }), 3, "no partitions assigned yet");
  document.getElementById("status").textContent = "updated " + clock(snap.now) + " UTC";
}
function poll() {
  fetch(DATA_URL, { cache: "no-store" })
    .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
    .then(render)
    .catch(function (e) { document.getElementById("status").textContent = "not reachable: " + e.message; })
    .finally(function () { setTimeout(poll, 1000); });
}
poll();
</script>
</body>
</html>
`;
}

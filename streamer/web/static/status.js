// Live status: one EventSource, one table row per source. Updates are batched
// into one DOM pass every RENDER_MS, and a row only writes cells whose text
// changed, so 64 sources updating every window stay cheap for the browser
// (scripts/bench_live_page.py).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const LEVEL_FLOOR_DBFS = -60;
const RENDER_MS = 250;
const sources = new Map();  // id -> {data, scores, history, row, cells}
const dirty = new Set();
let renderPending = false;

function el(tag, cls, parent) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (parent) parent.appendChild(node);
  return node;
}

function addRow(id) {
  const row = el("tr");
  row.dataset.source = id;
  const cells = {};
  for (const name of ["id", "state", "decision", "score", "spark", "level", "event", "engine", "windows"]) {
    cells[name] = el("td", name === "score" || name === "windows" ? "num" : "", row);
  }
  cells.id.textContent = id;
  cells.stateBadge = el("span", "state", cells.state);
  const spark = document.createElementNS(SVG, "svg");
  spark.setAttribute("class", "spark");
  spark.setAttribute("preserveAspectRatio", "none");
  const threshold = document.createElementNS(SVG, "line");
  for (const [k, v] of [["x1", 0], ["x2", 1], ["y1", 0.5], ["y2", 0.5]]) threshold.setAttribute(k, v);
  const line = document.createElementNS(SVG, "polyline");
  spark.append(threshold, line);
  cells.spark.appendChild(spark);
  cells.sparkSvg = spark; cells.threshold = threshold; cells.line = line;
  cells.meter = el("div", "", el("span", "meter", cells.level));
  document.querySelector("#sources tbody").appendChild(row);
  document.getElementById("empty").hidden = true;
  return {row, cells};
}

function remove(id) {
  const entry = sources.get(id);
  if (!entry) return;
  entry.row.remove();
  dirty.delete(entry);
  sources.delete(id);
  document.getElementById("empty").hidden = sources.size > 0;
}

function accept(message, scores, replace) {
  if (message.removed) return remove(message.id);
  let entry = sources.get(message.id);
  if (!entry) {
    entry = {scores: [], history: message.history || 90, ...addRow(message.id)};
    sources.set(message.id, entry);
  }
  entry.data = message;
  if (message.history) entry.history = message.history;
  entry.scores = replace ? scores.slice() : entry.scores.concat(scores);
  if (entry.scores.length > entry.history) entry.scores.splice(0, entry.scores.length - entry.history);
  dirty.add(entry);
  if (!renderPending) { renderPending = true; setTimeout(() => requestAnimationFrame(render), RENDER_MS); }
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function setClass(node, cls) {
  if (node.className !== cls) node.className = cls;
}

// A remote engine's request log in one cell (the MQTT engine topic has the same fields); the local engine has none.
function engineText(engine) {
  if (!engine) return "local";
  const quota = engine.quota_errors === 1 ? "1 quota error" : `${engine.quota_errors} quota errors`;
  return `${engine.engine}: ${engine.requests_total} requests, ${quota}, ${Math.round(engine.latency_ms.mean)} ms mean`;
}

function render() {
  renderPending = false;
  for (const {data, scores, history, cells} of dirty) {
    setText(cells.stateBadge, data.state);
    setClass(cells.stateBadge, "state " + data.state);
    setText(cells.decision, data.decision || "—");
    setClass(cells.decision, "decision " + (data.decision || ""));
    setText(cells.score, data.ai_score == null ? "—" : data.ai_score.toFixed(2));
    cells.sparkSvg.setAttribute("viewBox", `0 0 ${history - 1} 1`);
    cells.threshold.setAttribute("x2", history - 1);
    cells.line.setAttribute("points", scores.map((s, i) => `${i + history - scores.length},${1 - s}`).join(" "));
    const level = data.level_dbfs == null ? LEVEL_FLOOR_DBFS : data.level_dbfs;
    const fill = Math.max(0, Math.min(1, 1 - level / LEVEL_FLOOR_DBFS));
    cells.meter.style.width = `${(fill * 100).toFixed(0)}%`;
    cells.level.title = data.level_dbfs == null ? "no audio yet" : `${data.level_dbfs.toFixed(1)} dBFS`;
    setText(cells.event, data.last_event);
    setText(cells.engine, engineText(data.engine));
    cells.engine.title = data.engine ? `last: ${data.engine.last_outcome || "—"}, ${data.engine.audio_seconds_sent.toFixed(0)} s of audio sent` : "";
    setText(cells.windows, String(data.windows));
  }
  dirty.clear();
}

const connection = document.getElementById("connection");
// The page's own query (e.g. ?api_key=… on aimd serve) authorises the event stream too.
const stream = new EventSource("events" + location.search);
stream.addEventListener("open", () => { connection.textContent = "live"; connection.className = "connection"; });
stream.addEventListener("error", () => { connection.textContent = "connection to aimd lost, retrying…"; connection.className = "connection lost"; });
stream.addEventListener("snapshot", (e) => { for (const s of JSON.parse(e.data)) accept(s, s.scores, true); });
stream.addEventListener("update", (e) => {
  const s = JSON.parse(e.data);
  accept(s, "score" in s ? [s.score] : [], false);
});

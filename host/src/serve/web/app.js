// topictable's live view. The pipelines and tables with their state, rows,
// rows/s, lag and errors, refreshed every second from the REST API; one
// table as a grid that follows the table's updates stream (one message per
// cycle); pause / resume / restart buttons. Plain JavaScript, no dependencies.
"use strict";

const REFRESH_MS = 1000;
const GRID_LIMIT = 500;
const state = {
  selected: null,
  sortColumn: null, // null: newest row first (by row key)
  sortDescending: true,
  rows: new Map(), // row key -> row, as the updates stream left it
  changed: new Set(), // keys of rows added or modified by the last message
  cycle: 0,
  totalRows: 0, // rows in the table at `cycle`, as the updates stream tells
  follow: null, // AbortController of the running updates stream
  tables: [],
  statuses: new Map(), // pipeline -> status
  drawPending: false,
};

function token() {
  return sessionStorage.getItem("topictable-token");
}

function headers() {
  return token() ? { Authorization: "Bearer " + token() } : {};
}

// Asks for the token once when the server answers 401; true if one was given.
function askToken() {
  const given = window.prompt("This topictable needs a token (--token):");
  if (given) sessionStorage.setItem("topictable-token", given);
  return Boolean(given);
}

// `method` `path`, answering the body as JSON (null for 204).
async function api(path, method = "GET") {
  const response = await fetch(path, { method, headers: headers() });
  if (response.status === 401 && askToken()) return api(path, method);
  if (response.status === 204) return null;
  const body = await response.json();
  if (!response.ok) throw new Error(body.message || response.statusText);
  return body;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function show(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function button(label, action) {
  const b = document.createElement("button");
  b.textContent = label;
  b.addEventListener("click", async (event) => {
    event.stopPropagation();
    try {
      await action();
    } catch (e) {
      document.getElementById("status").textContent = label + ": " + e.message;
    }
    refresh();
  });
  return b;
}

function renderPipelines() {
  const tbody = document.querySelector("#pipelines tbody");
  tbody.replaceChildren();
  for (const [name, s] of state.statuses) {
    const tr = document.createElement("tr");
    const actions = document.createElement("td");
    const path = `/api/v1/pipelines/${encodeURIComponent(name)}`;
    if (s.state === "Paused") actions.append(button("resume", () => api(path + "/resume", "PUT")));
    else actions.append(button("pause", () => api(path + "/pause", "PUT")));
    if (s.tables.some((t) => t.state === "Failed" && t.kind === "kafka")) {
      actions.append(button("restart", () => api(path + "/restart", "POST")));
    }
    tr.append(cell(name), cell(s.state, "state-" + s.state.toLowerCase()), cell(String(s.cycle), "num"), actions);
    tbody.append(tr);
  }
}

function tableStatus(name) {
  for (const s of state.statuses.values()) {
    const t = s.tables.find((t) => t.name === name);
    if (t) return t;
  }
  return null;
}

function renderTables() {
  const tbody = document.querySelector("#tables tbody");
  tbody.replaceChildren();
  for (const t of state.tables) {
    const s = tableStatus(t.name) || {};
    const tr = document.createElement("tr");
    tr.dataset.table = t.name;
    if (t.name === state.selected) tr.className = "selected";
    const lag = (s.partitions || []).reduce((sum, p) => sum + (p.lag || 0), 0);
    const errors = s.errors ? s.errors.decode_errors : null;
    const stateText = (s.state || (t.error ? "Failed" : "Running"));
    tr.append(
      cell(t.name),
      cell(t.pipeline),
      cell(t.kind + (t.blink ? " (blink)" : "")),
      cell(stateText, "state-" + stateText.toLowerCase()),
      cell(t.rows === null ? "" : t.rows.toLocaleString(), "num"),
      cell(s.rows_per_sec === undefined ? "" : Math.round(s.rows_per_sec).toLocaleString(), "num"),
      cell(s.partitions ? lag.toLocaleString() : "", "num"),
      cell(errors === null ? "" : errors.toLocaleString(), "num"),
    );
    tr.addEventListener("click", () => select(t.name));
    tbody.append(tr);
  }
}

// The rows to show: sorted by the chosen column, or newest (highest key) first.
function sortedRows() {
  const entries = [...state.rows.entries()];
  const column = state.sortColumn;
  const sign = state.sortDescending ? -1 : 1;
  if (!column) return entries.sort((a, b) => (a[0] - b[0]) * sign);
  return entries.sort((a, b) => {
    const x = a[1][column], y = b[1][column];
    if (x === y) return 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * sign;
  });
}

function drawGrid() {
  state.drawPending = false;
  const info = state.tables.find((t) => t.name === state.selected);
  if (!info) return;
  document.getElementById("grid-section").hidden = false;
  document.getElementById("grid-title").textContent = info.name;
  const s = tableStatus(info.name);
  const failure = (s && s.error) || info.error;
  const error = document.getElementById("grid-error");
  error.hidden = !failure;
  error.textContent = failure ? "Failed: " + failure : "";
  const columns = info.schema.map((c) => c.name);
  const total = state.totalRows;
  document.getElementById("grid-note").textContent =
    `cycle ${state.cycle}: ${total} row${total === 1 ? "" : "s"}` +
    (total > GRID_LIMIT ? ` (showing the newest ${GRID_LIMIT})` : "") +
    `, ${state.sortColumn ? "by " + state.sortColumn : "newest first"}` +
    (state.sortColumn ? (state.sortDescending ? " descending" : " ascending") : "");
  const head = document.createElement("tr");
  for (const c of columns) {
    const th = document.createElement("th");
    th.textContent = c + (c === state.sortColumn ? (state.sortDescending ? " ▼" : " ▲") : "");
    th.addEventListener("click", () => {
      state.sortDescending = state.sortColumn === c ? !state.sortDescending : true;
      state.sortColumn = c;
      drawGrid();
    });
    head.append(th);
  }
  document.querySelector("#grid thead").replaceChildren(head);
  const tbody = document.querySelector("#grid tbody");
  tbody.replaceChildren();
  for (const [key, row] of sortedRows()) {
    const tr = document.createElement("tr");
    for (const c of columns) {
      const td = cell(show(row[c]), typeof row[c] === "number" ? "num" : "");
      if (state.changed.has(key) && (!row.__before || show(row.__before[c]) !== show(row[c]))) td.classList.add("changed");
      tr.append(td);
    }
    tbody.append(tr);
  }
  state.changed = new Set();
}

function scheduleDraw() {
  if (!state.drawPending) {
    state.drawPending = true;
    requestAnimationFrame(drawGrid);
  }
}

// Keeps the newest GRID_LIMIT rows (highest keys).
function trim() {
  if (state.rows.size <= GRID_LIMIT) return;
  const keys = [...state.rows.keys()].sort((a, b) => a - b);
  for (const k of keys.slice(0, keys.length - GRID_LIMIT)) state.rows.delete(k);
}

// Applies one message of the updates stream.
function apply(kind, data) {
  state.cycle = data.cycle;
  if (kind === "snapshot") {
    state.rows = new Map();
    state.totalRows = data.total_rows;
    data.keys.forEach((k, i) => state.rows.set(k, data.rows[i]));
    state.changed = new Set(data.keys);
  } else if (kind === "update") {
    state.totalRows += data.added.keys.length - data.removed.keys.length;
    data.removed.keys.forEach((k) => state.rows.delete(k));
    data.added.keys.forEach((k, i) => { state.rows.set(k, data.added.rows[i]); state.changed.add(k); });
    data.modified.keys.forEach((k, i) => {
      const before = state.rows.get(k);
      const row = data.modified.rows[i];
      if (before) Object.defineProperty(row, "__before", { value: before, enumerable: false });
      state.rows.set(k, row);
      state.changed.add(k);
    });
  }
  trim();
  scheduleDraw();
}

// Reads the table's updates (Server-Sent Events over fetch, which, unlike
// EventSource, can send the token) until `controller` aborts.
async function follow(name, controller) {
  const url = `/api/v1/tables/${encodeURIComponent(name)}/updates?tail=${GRID_LIMIT}`;
  while (!controller.signal.aborted) {
    try {
      const response = await fetch(url, { headers: headers(), signal: controller.signal });
      if (response.status === 401 && askToken()) continue;
      if (!response.ok) throw new Error((await response.json()).message);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = "message", data = "";
          for (const line of message.split("\n")) {
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("data:")) data += line.slice(5).trimStart();
          }
          if (data) apply(event, JSON.parse(data));
        }
      }
    } catch (e) {
      if (controller.signal.aborted) return;
      document.getElementById("status").textContent = "updates: " + e.message;
    }
    await new Promise((r) => setTimeout(r, REFRESH_MS));
  }
}

async function refresh() {
  try {
    const [tables, pipelines] = await Promise.all([api("/api/v1/tables"), api("/api/v1/pipelines")]);
    const statuses = await Promise.all(
      pipelines.map((p) => api(`/api/v1/pipelines/${encodeURIComponent(p.name)}/status`)),
    );
    state.tables = tables;
    state.statuses = new Map(statuses.map((s) => [s.name, s]));
    renderPipelines();
    renderTables();
    if (state.selected && !state.follow && tables.some((t) => t.name === state.selected)) startFollowing();
    if (state.selected) scheduleDraw();
    document.getElementById("status").textContent = "live";
  } catch (e) {
    document.getElementById("status").textContent = "not reachable: " + e.message;
  }
}

function startFollowing() {
  if (state.follow) state.follow.abort();
  state.follow = new AbortController();
  follow(state.selected, state.follow);
}

function select(name) {
  state.selected = name;
  state.sortColumn = null;
  state.sortDescending = true;
  state.rows = new Map();
  history.replaceState(null, "", "#" + encodeURIComponent(name));
  startFollowing();
  renderTables();
  scheduleDraw();
}

if (location.hash.length > 1) state.selected = decodeURIComponent(location.hash.slice(1));
refresh();
setInterval(refresh, REFRESH_MS);

// topictable's live view: the table list and one table as a grid, refreshed
// every second from the REST API. Plain JavaScript, no dependencies.
"use strict";

const REFRESH_MS = 1000;
const GRID_LIMIT = 500;
const state = { selected: null, sortColumn: null, sortDescending: true, lastRows: new Map(), lastCounts: new Map() };

function token() {
  return sessionStorage.getItem("topictable-token");
}

// GET `path` as JSON, asking for the token once if the server wants one.
async function api(path) {
  const headers = {};
  if (token()) headers.Authorization = "Bearer " + token();
  const response = await fetch(path, { headers });
  if (response.status === 401) {
    const given = window.prompt("This topictable needs a token (--token):");
    if (given) {
      sessionStorage.setItem("topictable-token", given);
      return api(path);
    }
  }
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

function renderTables(tables) {
  const tbody = document.querySelector("#tables tbody");
  tbody.replaceChildren();
  const now = performance.now();
  for (const t of tables) {
    const tr = document.createElement("tr");
    tr.dataset.table = t.name;
    if (t.name === state.selected) tr.className = "selected";
    const previous = state.lastCounts.get(t.name);
    let rate = "";
    if (previous && t.rows !== null && now > previous.at) {
      rate = Math.max(0, Math.round(((t.rows - previous.rows) * 1000) / (now - previous.at))).toLocaleString();
    }
    if (t.rows !== null) state.lastCounts.set(t.name, { rows: t.rows, at: now });
    const stateText = t.state || (t.error ? "failed" : "live");
    tr.append(
      cell(t.name),
      cell(t.kind + (t.blink ? " (blink)" : "")),
      cell(stateText, "state-" + stateText),
      cell(t.rows === null ? "" : t.rows.toLocaleString(), "num"),
      cell(rate, "num"),
    );
    tr.addEventListener("click", () => select(t.name));
    tbody.append(tr);
  }
  if (tables.length) document.getElementById("pipeline").textContent = tables[0].pipeline;
}

function sortRows(rows) {
  const column = state.sortColumn;
  if (!column) return rows;
  const sign = state.sortDescending ? -1 : 1;
  return rows.slice().sort((a, b) => {
    const x = a[column], y = b[column];
    if (x === y) return 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * sign;
  });
}

function renderGrid(info, rows) {
  document.getElementById("grid-section").hidden = false;
  document.getElementById("grid-title").textContent = info.name;
  const error = document.getElementById("grid-error");
  error.hidden = !info.error;
  error.textContent = info.error || "";
  const columns = info.schema.map((c) => c.name);
  if (!state.sortColumn && columns.includes("KafkaOffset")) state.sortColumn = "KafkaOffset";
  document.getElementById("grid-note").textContent =
    `${info.rows ?? 0} rows` + (info.rows > GRID_LIMIT ? ` (showing ${GRID_LIMIT})` : "") +
    (state.sortColumn ? `, by ${state.sortColumn} ${state.sortDescending ? "descending" : "ascending"}` : "");
  const head = document.createElement("tr");
  for (const c of columns) {
    const th = document.createElement("th");
    th.textContent = c + (c === state.sortColumn ? (state.sortDescending ? " ▼" : " ▲") : "");
    th.addEventListener("click", () => {
      state.sortDescending = state.sortColumn === c ? !state.sortDescending : true;
      state.sortColumn = c;
      refresh();
    });
    head.append(th);
  }
  document.querySelector("#grid thead").replaceChildren(head);
  // A row's identity: its Kafka position when it has one, else its place.
  const key = (row, i) => ("KafkaPartition" in row && "KafkaOffset" in row)
    ? row.KafkaPartition + "@" + row.KafkaOffset
    : columns.filter((c) => typeof row[c] === "string").map((c) => row[c]).join("|") || String(i);
  const seen = new Map();
  const tbody = document.querySelector("#grid tbody");
  tbody.replaceChildren();
  sortRows(rows).forEach((row, i) => {
    const tr = document.createElement("tr");
    const k = key(row, i);
    const before = state.lastRows.get(k);
    for (const c of columns) {
      const td = cell(show(row[c]), typeof row[c] === "number" ? "num" : "");
      if (before === undefined || show(before[c]) !== show(row[c])) td.classList.add("changed");
      tr.append(td);
    }
    seen.set(k, row);
    tbody.append(tr);
  });
  state.lastRows = seen;
}

async function refresh() {
  try {
    const tables = await api("/api/v1/tables");
    renderTables(tables);
    if (state.selected) {
      const info = tables.find((t) => t.name === state.selected);
      if (info) {
        const rows = await api(`/api/v1/tables/${encodeURIComponent(info.name)}/snapshot?format=json&tail=${GRID_LIMIT}`);
        renderGrid(info, rows);
      }
    }
    document.getElementById("status").textContent = "live";
  } catch (e) {
    document.getElementById("status").textContent = "not reachable: " + e.message;
  }
}

function select(name) {
  state.selected = name;
  state.sortColumn = null;
  state.lastRows = new Map();
  history.replaceState(null, "", "#" + encodeURIComponent(name));
  refresh();
}

if (location.hash.length > 1) state.selected = decodeURIComponent(location.hash.slice(1));
refresh();
setInterval(refresh, REFRESH_MS);

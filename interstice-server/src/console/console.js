// The node's web console. It uses only the public HTTP API
// (docs/http-api.md), so whatever it shows a script can do too. No
// framework and no request to anywhere but this node.
"use strict";

const state = {
  token: sessionStorage.getItem("interstice-token") || "",
  modules: [],
  table: null,          // {module, table}
  page: 0,
  pageSize: 50,
  live: null,           // EventSource of the live view
  reducer: null,
  timelineFrom: null,   // first offset shown
  selected: null,       // selected commit offset
};

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  for (const c of children) e.append(c);
  return e;
};

/** A request to the node, with the token when there is one. */
async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (state.token) headers["Authorization"] = "Bearer " + state.token;
  const r = await fetch(path, Object.assign({}, options, { headers }));
  const body = await r.json().catch(() => ({}));
  if (r.status === 401) {
    $("token-box").hidden = false;
  }
  if (!r.ok) {
    const e = body.error || {};
    throw new Error(`${r.status} ${e.code || ""}: ${e.message || r.statusText}`);
  }
  return body;
}

function json(v) {
  return typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v);
}

// ---- tabs and status ----------------------------------------------------

function showTab(name) {
  for (const b of document.querySelectorAll("header nav button")) {
    b.classList.toggle("on", b.dataset.tab === name);
  }
  for (const s of document.querySelectorAll("section.tab")) {
    s.classList.toggle("on", s.id === name);
  }
  if (name === "timeline") loadTimeline();
  if (name === "graph") loadGraph();
  if (name === "node") loadNode();
}

async function loadStatus() {
  try {
    const s = await api("/v1/status");
    $("status").textContent = [s.status, s.backend, `durable up to ${s.last_durable_offset ?? "-"}`]
      .filter(Boolean).join(" · ");
  } catch (e) {
    $("status").textContent = e.message;
  }
}

// ---- modules, tables, reducers -----------------------------------------

async function loadModules() {
  state.modules = await api("/v1/modules");
  const aside = $("modules");
  aside.replaceChildren();
  for (const m of state.modules) {
    aside.append(el("h3", { textContent: `${m.name} ${m.version.major}.${m.version.minor}.${m.version.patch}` }));
    for (const t of m.tables) {
      const a = el("a", { textContent: t.name, title: "table" });
      a.dataset.table = `${m.name}.${t.name}`;
      a.onclick = () => openTable(m.name, t.name);
      aside.append(a);
    }
    const callable = m.reducers.filter((r) => !(m.migrations || []).some((g) => g.reducer === r.name));
    if (callable.length) aside.append(el("small", { textContent: "reducers" }));
    for (const r of callable) {
      const a = el("a", { textContent: `${r.name}()` });
      a.dataset.reducer = `${m.name}.${r.name}`;
      a.onclick = () => openReducer(m, r);
      aside.append(a);
    }
  }
  if (!state.table && state.modules.length && state.modules[0].tables.length) {
    openTable(state.modules[0].name, state.modules[0].tables[0].name);
  }
}

function tableSchema(module, table) {
  const m = state.modules.find((x) => x.name === module);
  return m && m.tables.find((t) => t.name === table);
}

function openTable(module, table) {
  state.table = { module, table };
  state.page = 0;
  for (const a of document.querySelectorAll("aside a[data-table]")) {
    a.classList.toggle("on", a.dataset.table === `${module}.${table}`);
  }
  $("table-title").textContent = `${module}.${table}`;
  loadRows();
  if ($("live").checked) startLive();
}

/** The table's rows for the current filter, page and offset. */
async function loadRows() {
  if (!state.table) return;
  const { module, table } = state.table;
  const q = new URLSearchParams();
  const filter = $("filter").value.trim();
  if (filter) q.append("where", filter);
  q.set("limit", String(state.pageSize));
  q.set("skip", String(state.page * state.pageSize));
  const at = $("at").value.trim();
  if (at) q.set("at", at);
  $("page").textContent = String(state.page + 1);
  try {
    const body = await api(`/v1/modules/${module}/tables/${table}?${q}`);
    renderRows(body.rows);
    $("next").disabled = !body.more;
    $("prev").disabled = state.page === 0;
  } catch (e) {
    $("rows").replaceChildren(el("caption", { className: "error", textContent: e.message }));
  }
}

function renderRows(rows) {
  const t = tableSchema(state.table.module, state.table.table);
  const cols = t ? t.columns.map((c) => c.name) : Object.keys(rows[0] || {});
  const head = el("tr", {}, ...cols.map((c) => el("th", { textContent: c })));
  const pk = t ? cols[t.primary_key] : cols[0];
  const body = rows.map((r) => {
    const tr = el("tr", {}, ...cols.map((c) => el("td", { textContent: json(r[c]) })));
    tr.dataset.key = json(r[pk]);
    return tr;
  });
  $("rows").replaceChildren(head, ...body);
}

/** Follows the table's changes (Server-Sent Events, read with fetch so
 *  that the token goes in a header): rows appear, change and go as calls
 *  commit. */
function startLive() {
  stopLive();
  if (!state.table || $("at").value.trim()) return;
  const { module, table } = state.table;
  const q = new URLSearchParams();
  const filter = $("filter").value.trim();
  if (filter) q.append("where", filter);
  const t = tableSchema(module, table);
  const pk = t.columns[t.primary_key].name;
  const cols = t.columns.map((c) => c.name);
  const find = (key) => [...$("rows").querySelectorAll("tr")].find((x) => x.dataset.key === key);
  const handlers = {
    snapshot: (d) => renderRows(d.rows.slice(0, state.pageSize)),
    insert: upsert,
    update: upsert,
    delete: (d) => { const old = find(json(d.row[pk])); if (old) old.remove(); },
    close: (d) => end(d.message),
    error: (d) => end(d.message),
  };
  function upsert(d) {
    const key = json(d.row[pk]);
    const tr = el("tr", { className: "fresh" }, ...cols.map((c) => el("td", { textContent: json(d.row[c]) })));
    tr.dataset.key = key;
    const old = find(key);
    if (old) old.replaceWith(tr); else $("rows").append(tr);
  }
  function end(message) {
    stopLive();
    $("live").checked = false;
    $("status").textContent = "live view ended: " + message;
  }
  const abort = new AbortController();
  state.live = abort;
  const headers = state.token ? { Authorization: "Bearer " + state.token } : {};
  fetch(`/v1/modules/${module}/tables/${table}/events?${q}`, { headers, signal: abort.signal })
    .then(async (r) => {
      if (!r.ok) throw new Error(`${r.status}`);
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          let event = "message", data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) event = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (handlers[event] && data) handlers[event](JSON.parse(data));
        }
      }
    })
    .catch((e) => { if (state.live === abort) end(e.message); });
}

function stopLive() {
  if (state.live) state.live.abort();
  state.live = null;
}

function openReducer(module, reducer) {
  state.reducer = { module: module.name, reducer };
  showTab("tables");
  $("reducer-box").hidden = false;
  $("reducer-title").textContent = `${module.name}.${reducer.name}`;
  const form = $("reducer-form");
  form.replaceChildren(
    ...reducer.params.map((p) =>
      el("label", {}, `${p.name} (${typeName(p.ty)}) `, el("input", { name: p.name, placeholder: "JSON, or text for a string" }))),
    el("button", { textContent: "Call" }),
  );
  $("reducer-out").textContent = "";
}

function typeName(ty) {
  return typeof ty === "string" ? ty : JSON.stringify(ty);
}

async function callReducer(event) {
  event.preventDefault();
  const { module, reducer } = state.reducer;
  const args = {};
  for (const p of reducer.params) {
    const raw = event.target.elements[p.name].value;
    try { args[p.name] = JSON.parse(raw); } catch { args[p.name] = raw; }
  }
  try {
    const r = await api(`/v1/modules/${module}/reducers/${reducer.name}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(args),
    });
    const logs = (r.logs || []).map((l) => `[${l.level}] ${l.message}`).join("\n");
    $("reducer-out").textContent = `committed at offset ${r.offset}` + (logs ? "\n" + logs : "");
    if (!state.live) loadRows();
    loadStatus();
  } catch (e) {
    $("reducer-out").textContent = e.message;
  }
}

// ---- timeline ------------------------------------------------------------

async function loadTimeline() {
  const q = new URLSearchParams({ limit: "50" });
  if (state.timelineFrom !== null) q.set("from", String(state.timelineFrom));
  try {
    const body = await api(`/v1/log?${q}`);
    state.timelineFrom = body.from;
    const list = $("commits");
    list.replaceChildren(...body.commits.map((c) => {
      const li = el("li", {
        textContent: `#${c.offset} ${c.time.slice(11, 23)} ${c.module}.${c.reducer}${c.cause !== null ? " <- #" + c.cause : ""} · ${c.rows} rows`,
      });
      li.dataset.offset = c.offset;
      li.onclick = () => selectCommit(c.offset);
      return li;
    }));
    if (state.selected !== null) highlight();
  } catch (e) {
    $("commits").replaceChildren(el("li", { className: "error", textContent: e.message }));
  }
}

function highlight() {
  for (const li of $("commits").children) {
    li.classList.toggle("on", Number(li.dataset.offset) === state.selected);
  }
  $("selected-commit").textContent = state.selected === null ? "" : `commit ${state.selected}`;
}

/** Shows a commit: its call, the rows it changed (a diff from the commit
 *  before), and sets the table view to the state just after it. */
async function selectCommit(offset) {
  state.selected = offset;
  highlight();
  $("at").value = String(offset);
  stopLive();
  $("live").checked = false;
  const detail = $("commit-detail");
  try {
    const [log, diff] = await Promise.all([
      api(`/v1/log?from=${offset}&limit=1`),
      offset > 0 ? api(`/v1/diff?from=${offset - 1}&to=${offset}`) : Promise.resolve({ tables: [] }),
    ]);
    const c = log.commits[0];
    const parts = [el("h3", { textContent: `commit ${c.offset}: ${c.module}.${c.reducer}(${c.args === null ? "" : JSON.stringify(c.args)})` }),
      el("p", { textContent: `${c.time}${c.cause !== null ? " · triggered by commit " + c.cause : ""}` })];
    for (const t of diff.tables) {
      parts.push(el("h4", { textContent: t.table }));
      for (const r of t.rows) {
        const text = r.change === "update"
          ? `~ ${JSON.stringify(r.old)} -> ${JSON.stringify(r.row)}`
          : `${r.change === "insert" ? "+" : "-"} ${JSON.stringify(r.row)}`;
        parts.push(el("div", { className: { insert: "ins", delete: "del", update: "upd" }[r.change], textContent: text }));
      }
    }
    detail.replaceChildren(...parts);
    loadRows();
  } catch (e) {
    detail.replaceChildren(el("p", { className: "error", textContent: e.message }));
  }
}

// ---- graph and node -----------------------------------------------------

async function loadGraph() {
  const headers = state.token ? { Authorization: "Bearer " + state.token } : {};
  const r = await fetch("/v1/graph", { headers });
  $("graph-svg").innerHTML = r.ok ? await r.text() : `<p class="error">${r.status}</p>`;
}

async function loadNode() {
  try {
    $("node-status").textContent = JSON.stringify(await api("/v1/status"), null, 2);
  } catch (e) {
    $("node-status").textContent = e.message;
  }
  const headers = state.token ? { Authorization: "Bearer " + state.token } : {};
  const r = await fetch("/metrics", { headers });
  const text = r.ok ? await r.text() : "";
  const keep = /^interstice_(reducer_calls_total|reducer_errors_total|table_rows|log_appends_total)\b/;
  const rows = text.split("\n").filter((l) => keep.test(l)).slice(0, 200)
    .map((l) => { const i = l.lastIndexOf(" "); return el("tr", {}, el("td", { textContent: l.slice(0, i) }), el("td", { textContent: l.slice(i + 1) })); });
  $("metrics").replaceChildren(el("tr", {}, el("th", { textContent: "metric" }), el("th", { textContent: "value" })), ...rows);
}

// ---- wiring --------------------------------------------------------------

function wire() {
  for (const b of document.querySelectorAll("header nav button")) {
    b.onclick = () => showTab(b.dataset.tab);
  }
  $("token-form").onsubmit = (e) => {
    e.preventDefault();
    state.token = $("token").value;
    sessionStorage.setItem("interstice-token", state.token);
    $("token-box").hidden = true;
    start();
  };
  $("filter").onchange = () => { state.page = 0; loadRows(); if ($("live").checked) startLive(); };
  $("at").onchange = () => { state.page = 0; if ($("at").value.trim()) { $("live").checked = false; stopLive(); } loadRows(); };
  $("live").onchange = () => { if ($("live").checked) { $("at").value = ""; loadRows(); startLive(); } else stopLive(); };
  $("prev").onclick = () => { if (state.page > 0) { state.page--; loadRows(); } };
  $("next").onclick = () => { state.page++; loadRows(); };
  $("reducer-form").onsubmit = callReducer;
  $("older").onclick = () => { state.timelineFrom = Math.max(0, (state.timelineFrom || 0) - 50); loadTimeline(); };
  $("newer").onclick = () => { state.timelineFrom = (state.timelineFrom || 0) + 50; loadTimeline(); };
  $("step-back").onclick = () => { if (state.selected > 0) selectCommit(state.selected - 1); };
  $("step-forward").onclick = () => { if (state.selected !== null) selectCommit(state.selected + 1); };
}

async function start() {
  await loadStatus();
  try {
    await loadModules();
  } catch (e) {
    $("modules").replaceChildren(el("p", { className: "error", textContent: e.message }));
  }
}

wire();
start();
// The status line follows the node (durable offset, a stop).
setInterval(loadStatus, 2000);

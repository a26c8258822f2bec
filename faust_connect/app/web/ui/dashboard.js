// faust-connect dashboard: refreshes pages from /ui/api/*, draws charts as inline SVG, and calls
// Kafka Connect's REST API and the dead letter queue extension (/faust-connect/...).
"use strict";

const FC = (() => {
  const POLL_MS = 2000;
  const DLQ_POLL_MS = 10000;
  const DASH = "—";
  const LABELS = { pause: "Pause", resume: "Resume", stop: "Stop", restart: "Restart", delete: "Delete" };

  const esc = (value) =>
    String(value ?? "").replace(/[&<>"']/g, (c) => ({
      "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;",
    })[c]);
  const num = (value) => (value === null || value === undefined ? DASH : esc(value));
  const $ = (selector, root = document) => root.querySelector(selector);
  const path = (name) => encodeURIComponent(name);
  const cut = (value, cls = "cut") => `<span class="${cls}" title="${esc(value)}">${esc(value)}</span>`;
  const clock = (t) => new Date(t * 1000).toLocaleTimeString();

  async function call(method, url, body) {
    const init = { method, headers: { "Content-Type": "application/json" } };
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await fetch(url, init);
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = { message: text }; }
    return { status: response.status, ok: response.ok, data };
  }

  function say(text, isError, box = $("#message")) {
    if (!box) return;
    box.textContent = text;
    box.className = isError ? "error" : "muted";
  }

  // An in-page confirmation (testable, unlike window.confirm): resolves true on Confirm.
  function confirmBox(text, okLabel = "Confirm") {
    const dialog = $("#confirm");
    $("#confirm-text").textContent = text;
    $("#confirm-ok").textContent = okLabel;
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.showModal();
    });
  }

  // -- charts (inline SVG) --------------------------------------------------------------------

  // Runs of [x, y] points without nulls or time gaps: each becomes one polyline.
  function runs(t, values, interval) {
    const out = [];
    let run = [];
    for (let i = 0; i < t.length; i++) {
      const v = values[i];
      const gap = i > 0 && t[i] - t[i - 1] > interval * 1.5;
      if (v === null || v === undefined || gap) {
        if (run.length) out.push(run);
        run = [];
        if (v === null || v === undefined) continue;
      }
      run.push([t[i], v]);
    }
    if (run.length) out.push(run);
    return out;
  }

  function spark(history, field, interval, w = 90, h = 20) {
    if (!history || !history.t.length) return "";
    const values = history[field];
    const max = Math.max(1, ...values.filter((v) => v !== null));
    const t0 = history.t[0], t1 = Math.max(history.t[history.t.length - 1], t0 + interval);
    const x = (t) => ((t - t0) / (t1 - t0)) * (w - 2) + 1;
    const y = (v) => h - 1 - (v / max) * (h - 2);
    const lines = runs(history.t, values, interval).map((run) => run.length === 1
      ? `<circle cx="${x(run[0][0]).toFixed(1)}" cy="${y(run[0][1]).toFixed(1)}" r="1.2"/>`
      : `<polyline points="${run.map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(" ")}"/>`);
    return `<svg class="sparkline" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" ` +
      `data-points="${values.filter((v) => v !== null).length}" role="img">` +
      `<title>${esc(field)} records/s, last ${Math.round((t1 - t0) / 60) || 1} min, max ${max}</title>` +
      `${lines.join("")}</svg>`;
  }

  const fmt = (v) => (v === null || v === undefined ? DASH
    : Math.abs(v) >= 1000 ? `${(v / 1000).toFixed(1)}k` : `${Math.round(v * 10) / 10}`);

  // A line chart of several series over the last `window` seconds.
  function chart(title, history, series, interval, window, unit = "") {
    const w = 320, h = 110, left = 36, right = 8, top = 18, bottom = 16;
    const t = history ? history.t : [];
    const t1 = t.length ? t[t.length - 1] : Date.now() / 1000;
    const t0 = t1 - window;
    const all = series.flatMap((s) => (history ? history[s.field] : []).filter((v) => v !== null));
    const max = Math.max(1, ...all);
    const x = (v) => left + ((v - t0) / window) * (w - left - right);
    const y = (v) => top + (1 - v / max) * (h - top - bottom);
    const lines = series.map((s) => runs(t, history ? history[s.field] : [], interval).map((run) =>
      run.length === 1
        ? `<circle class="${s.cls}" cx="${x(run[0][0]).toFixed(1)}" cy="${y(run[0][1]).toFixed(1)}" r="1.8"/>`
        : `<polyline class="${s.cls}" points="${run.map(([a, b]) =>
          `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(" ")}"/>`).join("")).join("");
    const latest = series.map((s) => {
      const values = history ? history[s.field] : [];
      const last = values.length ? values[values.length - 1] : null;
      return `<tspan class="${s.cls}-text">${esc(s.name)} ${fmt(last)}${esc(unit)}</tspan>`;
    }).join("  ");
    const empty = all.length ? "" :
      `<text x="${w / 2}" y="${h / 2 + 4}" text-anchor="middle" class="muted">${DASH} not measured yet</text>`;
    return `<figure class="chart" data-chart="${esc(title)}" data-points="${all.length}">` +
      `<svg width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img"><title>${esc(title)}</title>` +
      `<text x="${left}" y="12" class="chart-title">${esc(title)}</text>` +
      `<text x="${w - right}" y="12" text-anchor="end" class="chart-latest">${latest}</text>` +
      `<line class="axis" x1="${left}" y1="${h - bottom}" x2="${w - right}" y2="${h - bottom}"/>` +
      `<line class="grid" x1="${left}" y1="${top}" x2="${w - right}" y2="${top}"/>` +
      `<text x="${left - 4}" y="${top + 4}" text-anchor="end" class="tick">${fmt(max)}</text>` +
      `<text x="${left - 4}" y="${h - bottom}" text-anchor="end" class="tick">0</text>` +
      `<text x="${left}" y="${h - 3}" class="tick">-${Math.round(window / 60)}m</text>` +
      `<text x="${w - right}" y="${h - 3}" text-anchor="end" class="tick">now</text>` +
      `${lines}${empty}</svg></figure>`;
  }

  function chartSet(label, history, interval, window, kind) {
    const charts = [
      chart(`${label} records/s`, history,
        [{ field: "in", name: "in", cls: "s-in" }, { field: "out", name: "out", cls: "s-out" }],
        interval, window, "/s"),
      chart(`${label} commit age`, history, [{ field: "commit_age", name: "age", cls: "s-age" }],
        interval, window, "s"),
    ];
    if (kind === "sink") {
      charts.splice(1, 0, chart(`${label} lag`, history,
        [{ field: "lag", name: "lag", cls: "s-lag" }], interval, window));
    }
    return charts.join("");
  }

  // -- tables (the same markup as dashboard.py renders) ---------------------------------------

  function taskCells(task, interval) {
    const m = task.metrics;
    let worker = cut(task.worker_id, "cut wid");
    if (task.worker_status && task.worker_status !== "ok") {
      worker += ` <span class="warn">${esc(task.worker_status)}</span>`;
    }
    let cells = `<td class="state state-${esc(task.state)}">${esc(task.state)}</td><td>${worker}</td>`;
    if (!m) {
      cells += '<td colspan="5" class="muted">no metrics</td>';
    } else {
      const done = m.kind === "source" ? m.produced : m.put;
      const lag = m.kind === "sink" ? m.lag : null;
      cells += `<td class="rate"><span class="value">${num(m.rate)}</span>` +
        `<span class="spark">${task.state === "RUNNING" ? spark(task.history, "out", interval) : ""}</span></td>` +
        `<td>${num(done)}</td><td>${num(lag)}</td>` +
        `<td>${num(m.errors)}</td><td>${num(m.dead_lettered)}</td>`;
    }
    const trace = task.trace
      ? `<details><summary>trace</summary><pre class=trace>${esc(task.trace)}</pre></details>`
      : "";
    return cells + `<td class="trace-cell">${trace}</td>`;
  }

  // Only the actions that fit the connector's state (the server's ACTIONS_BY_STATE).
  function buttons(name, actions) {
    const n = esc(name);
    return (actions || ["delete"]).map((action) =>
      `<button data-action="${action}" data-connector="${n}"` +
      `${action === "delete" ? ' class="danger"' : ""}>${LABELS[action]}</button>`).join(" ");
  }

  // Keep open <details> open across refreshes.
  function openTraces(root) {
    return new Set([...root.querySelectorAll("tr[data-task]")]
      .filter((row) => row.querySelector("details[open]"))
      .map((row) => `${row.dataset.connector || ""}/${row.dataset.task}`));
  }
  function reopen(root, open) {
    root.querySelectorAll("tr[data-task]").forEach((row) => {
      const details = row.querySelector("details");
      if (details && open.has(`${row.dataset.connector || ""}/${row.dataset.task}`)) {
        details.open = true;
      }
    });
  }

  function overviewRows(data) {
    const rows = [];
    for (const c of data.connectors) {
      const name = esc(c.name);
      const state = c.connector.state;
      rows.push(`<tr class="connector${c.failed ? " failed" : ""}" data-connector="${name}">` +
        `<td><a href="/ui/connectors/${path(c.name)}" class="cut name" title="${name}">${name}</a>` +
        ` <span class="muted">${esc(c.type)}</span></td>` +
        `<td class="state state-${esc(state)}">${esc(state)}</td>` +
        `<td>${cut(c.connector.worker_id, "cut wid")}</td>` +
        `<td class="rate"><span class="value">${num(c.rate)}</span>` +
        `<span class="spark">${state === "RUNNING" ? spark(c.history, "out", data.interval) : ""}</span></td>` +
        `<td colspan="5" class="actions">${buttons(c.name, c.actions)}</td></tr>`);
      if (c.connector.trace) {
        rows.push(`<tr class="connector-trace"><td></td><td colspan="8"><pre class="trace">` +
          `${esc(c.connector.trace)}</pre></td></tr>`);
      }
      for (const t of c.tasks) {
        rows.push(`<tr class="task" data-connector="${name}" data-task="${esc(t.id)}">` +
          `<td class="task-id">task ${esc(t.id)}</td>${taskCells(t, data.interval)}</tr>`);
      }
    }
    return rows.join("") || '<tr><td colspan="9" class="muted">No connectors yet.</td></tr>';
  }

  // -- the flow view: sources → topics → sinks ------------------------------------------------

  function flow(data) {
    const sources = data.connectors.filter((c) => c.type === "source");
    const sinks = data.connectors.filter((c) => c.type !== "source");
    const topics = [];
    const dlqs = new Set();
    const addTopic = (t) => { if (!topics.includes(t)) topics.push(t); };
    sources.forEach((c) => c.topics.forEach(addTopic));
    sinks.forEach((c) => c.topics.forEach(addTopic));
    data.connectors.forEach((c) => { if (c.dlq_topic) { addTopic(c.dlq_topic); dlqs.add(c.dlq_topic); } });
    if (!data.connectors.length) return '<p class="muted">No connectors yet.</p>';
    const rowH = 38, nodeH = 26, nodeW = 190, w = 960;
    const cols = { source: 10, topic: w / 2 - nodeW / 2, sink: w - nodeW - 10 };
    const rows = Math.max(sources.length, topics.length, sinks.length);
    const h = rows * rowH + 30;
    const pos = new Map();
    const place = (list, col, key) => list.forEach((item, i) => {
      const offset = (rows - list.length) * rowH / 2;
      pos.set(key(item), { x: cols[col], y: 24 + offset + i * rowH });
    });
    place(sources, "source", (c) => `c:${c.name}`);
    place(topics, "topic", (t) => `t:${t}`);
    place(sinks, "sink", (c) => `c:${c.name}`);
    const label = (v) => (v === null || v === undefined ? DASH : `${fmt(v)}/s`);
    const edges = [];
    const edge = (from, to, text, cls, tip, attrs) => {
      const a = pos.get(from), b = pos.get(to);
      const x1 = a.x + nodeW, y1 = a.y + nodeH / 2, x2 = b.x, y2 = b.y + nodeH / 2;
      const mx = (x1 + x2) / 2;
      edges.push(`<g class="edge ${cls}" ${attrs}><title>${esc(tip)}</title>` +
        `<path d="M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}"/>` +
        `<text x="${mx}" y="${(y1 + y2) / 2 - 4}" text-anchor="middle" class="edge-label">${esc(text)}</text></g>`);
    };
    for (const c of sources) {
      const many = c.topics.length > 1 ? " (all topics)" : "";
      c.topics.forEach((t) => edge(`c:${c.name}`, `t:${t}`, label(c.rate) + many,
        c.failed ? "failed" : "", `${c.name} → ${t}: ${label(c.rate)}${many}`,
        `data-from="${esc(c.name)}" data-to="${esc(t)}"`));
    }
    for (const c of sinks) {
      c.topics.forEach((t) => edge(`t:${t}`, `c:${c.name}`, label(c.rate_in),
        c.failed ? "failed" : "", `${t} → ${c.name}: ${label(c.rate_in)}`,
        `data-from="${esc(t)}" data-to="${esc(c.name)}"`));
    }
    const dead = data.connectors.filter((c) => c.dlq_topic).map((c) => {
      const a = pos.get(`c:${c.name}`), b = pos.get(`t:${c.dlq_topic}`);
      const count = c.tasks.reduce((n, t) => n + ((t.metrics && t.metrics.dead_lettered) || 0), 0);
      const fromLeft = a.x > b.x;
      const x1 = fromLeft ? a.x : a.x + nodeW, x2 = fromLeft ? b.x + nodeW : b.x;
      const y1 = a.y + nodeH / 2, y2 = b.y + nodeH / 2, mx = (x1 + x2) / 2;
      return `<g class="edge dlq-edge" data-from="${esc(c.name)}" data-to="${esc(c.dlq_topic)}">` +
        `<title>${esc(c.name)} dead-lettered ${count} record(s) to ${esc(c.dlq_topic)}</title>` +
        `<path d="M${x1},${y1} C${mx},${y1 + 18} ${mx},${y2 + 18} ${x2},${y2}"/>` +
        `<text x="${mx}" y="${(y1 + y2) / 2 + 16}" text-anchor="middle" class="edge-label">${count} DLQ</text></g>`;
    });
    const node = (key, text, cls, href, tip, attrs) => {
      const p = pos.get(key);
      const shown = text.length > 26 ? `${text.slice(0, 25)}…` : text;
      const body = `<rect x="${p.x}" y="${p.y}" width="${nodeW}" height="${nodeH}" rx="5"/>` +
        `<text x="${p.x + 8}" y="${p.y + 17}">${esc(shown)}</text>`;
      const inner = `<title>${esc(tip)}</title>${body}`;
      return `<g class="node ${cls}" ${attrs}>${href ? `<a href="${href}">${inner}</a>` : inner}</g>`;
    };
    const nodes = [
      ...sources.map((c) => node(`c:${c.name}`, c.name, `source${c.failed ? " failed" : ""}`,
        `/ui/connectors/${path(c.name)}`, `${c.name} (source, ${c.connector.state})`,
        `data-connector="${esc(c.name)}"`)),
      ...topics.map((t) => node(`t:${t}`, t, `topic${dlqs.has(t) ? " dlq" : ""}`, "",
        dlqs.has(t) ? `${t} (dead letter queue)` : `${t} (topic)`, `data-topic="${esc(t)}"`)),
      ...sinks.map((c) => node(`c:${c.name}`, c.name, `sink${c.failed ? " failed" : ""}`,
        `/ui/connectors/${path(c.name)}`, `${c.name} (sink, ${c.connector.state})`,
        `data-connector="${esc(c.name)}"`)),
    ];
    const heads = `<text x="${cols.source}" y="14" class="col-head">Sources</text>` +
      `<text x="${cols.topic}" y="14" class="col-head">Topics</text>` +
      `<text x="${cols.sink}" y="14" class="col-head">Sinks</text>`;
    return `<svg id="flow-svg" width="100%" viewBox="0 0 ${w} ${h}" role="img">` +
      `<title>Data flow of the cluster</title>${heads}${edges.join("")}${dead.join("")}${nodes.join("")}</svg>`;
  }

  // -- the workers view -----------------------------------------------------------------------

  function workersView(data) {
    const byWorker = new Map(Object.keys(data.workers).map((w) => [w, []]));
    const put = (worker, item) => {
      if (!worker) return;
      if (!byWorker.has(worker)) byWorker.set(worker, []);
      byWorker.get(worker).push(item);
    };
    for (const c of data.connectors) {
      put(c.connector.worker_id, `<li class="unit" data-unit="${esc(c.name)}">` +
        `${cut(c.name)} <span class="muted">connector</span> ` +
        `<span class="state state-${esc(c.connector.state)}">${esc(c.connector.state)}</span></li>`);
      for (const t of c.tasks) {
        put(t.worker_id, `<li class="unit" data-task="${esc(c.name)}/${esc(t.id)}">` +
          `${cut(`${c.name}-${t.id}`)} <span class="muted">task</span> ` +
          `<span class="state state-${esc(t.state)}">${esc(t.state)}</span></li>`);
      }
    }
    const unassigned = data.connectors.flatMap((c) => c.tasks.filter((t) => !t.worker_id)
      .map((t) => `<li>${cut(`${c.name}-${t.id}`)} <span class="muted">${esc(t.state)}</span></li>`));
    const cards = [...byWorker.keys()].sort().map((w) => {
      const status = data.workers[w] || "not asked";
      const here = w === data.worker_id ? ' <span class="muted">(this page)</span>' : "";
      return `<div class="worker${status === "ok" ? "" : " down"}" data-worker="${esc(w)}">` +
        `<h3>${cut(w, "cut wid")}${here} <span class="${status === "ok" ? "muted" : "warn"}">${esc(status)}</span></h3>` +
        `<ul>${byWorker.get(w).join("") || '<li class="muted">nothing</li>'}</ul></div>`;
    });
    if (unassigned.length) {
      cards.push(`<div class="worker" data-worker=""><h3>Unassigned</h3><ul>${unassigned.join("")}</ul></div>`);
    }
    const moves = (data.moves || []).map((m) =>
      `<li class="move" data-task="${esc(m.connector)}/${esc(m.task)}">${esc(clock(m.at))} ` +
      `${cut(`${m.connector}-${m.task}`)} moved from ${cut(m.from, "cut wid")} to ${cut(m.to, "cut wid")}</li>`);
    return `<div class="workers">${cards.join("")}</div><h3>Task moves</h3>` +
      `<ul id="moves">${moves.join("") || '<li class="muted">none seen since this worker started</li>'}</ul>`;
  }

  function poll(refresh, every = POLL_MS) {
    const tick = async () => {
      try {
        await refresh();
        const stamp = $("#refreshed");
        if (stamp) stamp.textContent = `Updated ${new Date().toLocaleTimeString()}.`;
      } catch (e) {
        say(`Refresh failed: ${e}`, true);
      }
    };
    setInterval(tick, every);
    return tick;
  }

  // -- actions --------------------------------------------------------------------------------

  const ACTIONS = {
    pause: (n) => call("PUT", `/connectors/${path(n)}/pause`),
    resume: (n) => call("PUT", `/connectors/${path(n)}/resume`),
    stop: (n) => call("PUT", `/connectors/${path(n)}/stop`),
    restart: (n) => call("POST", `/connectors/${path(n)}/restart?includeTasks=true&onlyFailed=false`),
    delete: (n) => call("DELETE", `/connectors/${path(n)}`),
  };

  function wireButtons(refresh, onDeleted) {
    document.addEventListener("click", async (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      const { action, connector } = button.dataset;
      if (action === "delete" && !(await confirmBox(
        `Delete connector ${connector}? Its config and status are removed; its topics stay.`,
        "Delete"))) {
        say(`delete ${connector}: cancelled`, false);
        return;
      }
      const result = await ACTIONS[action](connector);
      if (result.ok) {
        say(`${action} ${connector}: accepted`, false);
        if (action === "delete" && onDeleted) { onDeleted(); return; }
      } else {
        say(`${action} ${connector}: ${(result.data && result.data.message) || result.status}`, true);
      }
      await refresh();
    });
  }

  function overview() {
    const body = $("#connectors tbody");
    const refresh = async () => {
      const { ok, data } = await call("GET", "/ui/api/overview");
      if (!ok) throw new Error((data && data.message) || "overview failed");
      const open = openTraces(body);
      body.innerHTML = overviewRows(data);
      reopen(body, open);
      $("#workers").innerHTML = "Workers: " + Object.keys(data.workers).sort().map((w) =>
        `<code>${esc(w)}</code> <span class="${data.workers[w] === "ok" ? "muted" : "warn"}">` +
        `${esc(data.workers[w])}</span>`).join(", ");
      $("#flow").innerHTML = flow(data);
      $("#workers-view").innerHTML = workersView(data);
    };
    wireButtons(refresh);
    poll(refresh)();
  }

  // -- the connector page ---------------------------------------------------------------------

  function offsetsEditor(name, refresh) {
    const box = $("#offsets-editor");
    box.innerHTML =
      `<h3>Offsets editor</h3><p id="offsets-rule" class="note">Offsets can be altered or reset only ` +
      `while the connector is <b>STOPPED</b> (KIP-875): stop it first, change them, then resume it. ` +
      `<button type="button" data-action="stop" data-connector="${esc(name)}" id="offsets-stop">Stop</button></p>` +
      `<textarea id="offsets-json" rows="6" spellcheck="false"></textarea>` +
      `<p><button type="button" id="offsets-load">Load current</button> ` +
      `<button type="button" id="offsets-alter">Alter offsets</button> ` +
      `<button type="button" id="offsets-reset" class="danger">Reset offsets</button></p>` +
      `<p id="offsets-message" role="status"></p>`;
    const text = $("#offsets-json");
    const message = $("#offsets-message");
    let current = [];
    const load = () => { text.value = JSON.stringify({ offsets: current }, null, 2); };
    $("#offsets-load").addEventListener("click", load);
    $("#offsets-alter").addEventListener("click", async () => {
      let body;
      try { body = JSON.parse(text.value); } catch (e) {
        say(`Not JSON: ${e.message}`, true, message); return;
      }
      if (!(await confirmBox(`Alter the offsets of ${name}? It resumes from them.`, "Alter"))) return;
      const result = await call("PATCH", `/connectors/${path(name)}/offsets`, body);
      say((result.data && result.data.message) || `HTTP ${result.status}`, !result.ok, message);
      await refresh();
    });
    $("#offsets-reset").addEventListener("click", async () => {
      if (!(await confirmBox(
        `Reset every offset of ${name}? A source starts over, a sink reads its topics from the start.`,
        "Reset"))) return;
      const result = await call("DELETE", `/connectors/${path(name)}/offsets`);
      say((result.data && result.data.message) || `HTTP ${result.status}`, !result.ok, message);
      await refresh();
    });
    return (state, offsets) => {
      const first = current.length === 0 && offsets.length > 0 && !text.value;
      current = offsets.filter((o) => o.partition !== "unavailable");
      if (first || !text.value) load();
      const stopped = state === "STOPPED";
      $("#offsets-alter").disabled = !stopped;
      $("#offsets-reset").disabled = !stopped;
      $("#offsets-stop").hidden = stopped;
      $("#offsets-rule").classList.toggle("ok", stopped);
    };
  }

  function payload(p) {
    if (p === null || p === undefined) return '<span class="muted">null</span>';
    if (p.decoded) {
      const text = typeof p.data === "string" ? p.data : JSON.stringify(p.data);
      return `<code class="cut payload" title="${esc(text)}">${esc(text)}</code>`;
    }
    return `<code class="cut payload raw" title="${esc(`${p.error}\nbase64: ${p.base64}`)}">` +
      `${esc(p.text)}</code> <span class="muted">bytes</span>`;
  }

  function dlqView(name) {
    const box = $("#dlq");
    if (!box) return () => {};
    box.innerHTML =
      `<p><button type="button" id="dlq-refresh">Refresh</button> ` +
      `<button type="button" id="dlq-replay" disabled>Replay</button> ` +
      `<label>to topic <input id="dlq-target" placeholder="the original topic" size="18"></label> ` +
      `<button type="button" id="dlq-discard" class="danger" disabled>Discard</button> ` +
      `<span id="dlq-count" class="muted"></span></p>` +
      `<table id="dlq-records"><thead><tr><th><input type="checkbox" id="dlq-all" title="select all"></th>` +
      `<th>Partition/offset</th><th>Time</th><th>Original</th><th>Stage</th><th>Exception</th>` +
      `<th>Key</th><th>Value</th><th>Headers</th><th></th></tr></thead><tbody></tbody></table>` +
      `<p id="dlq-message" role="status"></p>`;
    const body = $("#dlq-records tbody");
    const message = $("#dlq-message");
    const checked = () => [...body.querySelectorAll("input[data-offset]:checked")].map((el) =>
      ({ partition: Number(el.dataset.partition), offset: Number(el.dataset.offset) }));
    const update = () => {
      const n = checked().length;
      $("#dlq-replay").disabled = n === 0;
      $("#dlq-discard").disabled = n === 0;
      $("#dlq-count").textContent = n ? `${n} selected` : "";
    };
    const refresh = async () => {
      const keep = new Set(checked().map((r) => `${r.partition}/${r.offset}`));
      const { ok, data } = await call("GET", `/faust-connect/connectors/${path(name)}/dlq?limit=200`);
      if (!ok) { say((data && data.message) || "cannot read the DLQ", true, message); return; }
      body.innerHTML = data.records.map((r) => {
        const id = `${r.partition}/${r.offset}`;
        const e = r.errors || {};
        const o = r.original || {};
        const where = o.topic ? `${o.topic} ${o.partition ?? ""}/${o.offset ?? ""}` : DASH;
        const headers = r.headers.map((h) => `${h.key}=${h.value}`).join(", ");
        const state = r.state ? `<span class="badge">${esc(r.state.action)}` +
          `${r.state.topic ? ` to ${esc(r.state.topic)}` : ""}</span>` : "";
        return `<tr class="dlq-record" data-record="${esc(id)}">` +
          `<td><input type="checkbox" data-partition="${r.partition}" data-offset="${r.offset}"` +
          `${keep.has(id) ? " checked" : ""}></td><td>${esc(id)}</td>` +
          `<td>${r.timestamp ? esc(new Date(r.timestamp).toLocaleTimeString()) : DASH}</td>` +
          `<td>${cut(where)}</td><td>${esc(e.stage || DASH)}</td>` +
          `<td><span class="cut exception" title="${esc(`${e["exception.class.name"] || ""}: ` +
            `${e["exception.message"] || ""}\n\n${e["exception.stacktrace"] || ""}`)}">` +
          `${esc((e["exception.class.name"] || DASH).split(".").pop())}: ${esc(e["exception.message"] || "")}</span></td>` +
          `<td>${payload(r.key)}</td><td>${payload(r.value)}</td><td>${cut(headers)}</td><td>${state}</td></tr>`;
      }).join("") || `<tr><td colspan="10" class="muted">${data.exists
        ? "Empty: no dead-lettered records (or all discarded)." : "Nothing dead-lettered yet."}</td></tr>`;
      update();
    };
    body.addEventListener("change", update);
    $("#dlq-all").addEventListener("change", (event) => {
      body.querySelectorAll("input[data-offset]").forEach((el) => { el.checked = event.target.checked; });
      update();
    });
    $("#dlq-refresh").addEventListener("click", refresh);
    $("#dlq-replay").addEventListener("click", async () => {
      const records = checked();
      const target = $("#dlq-target").value.trim();
      const result = await call("POST", `/faust-connect/connectors/${path(name)}/dlq/replay`,
        target ? { records, topic: target } : { records });
      say(result.ok ? `Replayed ${result.data.replayed.length} record(s).`
        : (result.data && result.data.message) || `HTTP ${result.status}`, !result.ok, message);
      if (result.ok) body.querySelectorAll("input:checked").forEach((el) => { el.checked = false; });
      await refresh();
    });
    $("#dlq-discard").addEventListener("click", async () => {
      const records = checked();
      if (!(await confirmBox(`Discard ${records.length} record(s)? They are no longer listed.`,
        "Discard"))) return;
      const result = await call("POST", `/faust-connect/connectors/${path(name)}/dlq/discard`,
        { records });
      say(result.ok ? `Discarded ${result.data.discarded.length} record(s).`
        : (result.data && result.data.message) || `HTTP ${result.status}`, !result.ok, message);
      await refresh();
    });
    return refresh;
  }

  function detail(name) {
    let updateOffsets = null;
    const refresh = async () => {
      const { ok, data } = await call("GET", `/ui/api/connectors/${path(name)}`);
      if (!ok) throw new Error((data && data.message) || "not found");
      const state = $("#connector-state");
      state.textContent = data.connector.state;
      state.className = `state state-${data.connector.state}`;
      $("#actions").innerHTML = buttons(name, data.actions);
      const kind = data.type;
      $("#charts").innerHTML =
        `<div class="chart-row" data-unit="connector"><h3>${cut(name)} (all tasks)</h3>` +
        `${chartSet("connector", data.history, data.interval, data.window, kind)}</div>` +
        data.tasks.map((t) => `<div class="chart-row" data-unit="task-${esc(t.id)}">` +
          `<h3>task ${esc(t.id)} <span class="muted">${esc(t.state)} on ${cut(t.worker_id, "cut wid")}</span></h3>` +
          `${chartSet(`task ${t.id}`, t.history, data.interval, data.window, kind)}</div>`).join("");
      const tasks = $("#tasks tbody");
      const open = openTraces(tasks);
      tasks.innerHTML = data.tasks.map((t) =>
        `<tr class="task" data-task="${esc(t.id)}"><td>task ${esc(t.id)}</td>${taskCells(t, data.interval)}</tr>`).join("");
      reopen(tasks, open);
      $("#config tbody").innerHTML = Object.keys(data.config).sort().map((k) =>
        `<tr><th>${esc(k)}</th><td><code>${esc(data.config[k])}</code></td></tr>`).join("");
      $("#offsets tbody").innerHTML = data.offsets.map((o) =>
        `<tr><td><code>${esc(JSON.stringify(o.partition))}</code></td>` +
        `<td><code>${esc(JSON.stringify(o.offset))}</code></td></tr>`).join("") ||
        '<tr><td colspan="2" class="muted">none</td></tr>';
      if (updateOffsets) updateOffsets(data.connector.state, data.offsets);
    };
    updateOffsets = offsetsEditor(name, refresh);
    wireButtons(refresh, () => { window.location.href = "/ui"; });
    poll(refresh)();
    const dlqRefresh = dlqView(name);
    if ($("#dlq")) poll(dlqRefresh, DLQ_POLL_MS)();
  }

  // -- the config form ------------------------------------------------------------------------

  function input(def, value) {
    const key = esc(def.name);
    const recommended = def.recommended_values || [];
    if (recommended.length) {
      const options = ["", ...recommended].map((v) =>
        `<option value="${esc(v)}"${v === (value ?? "") ? " selected" : ""}>${esc(v)}</option>`);
      return `<select name="${key}" id="f-${key}">${options.join("")}</select>`;
    }
    const type = def.type === "PASSWORD" ? "password" : "text";
    return `<input type="${type}" name="${key}" id="f-${key}" value="${esc(value ?? "")}"` +
      ` placeholder="${esc(def.default_value ?? "")}" autocomplete="off">`;
  }

  function field(entry) {
    const def = entry.definition;
    const rec = entry.value.recommended_values || [];
    const full = { ...def, recommended_values: rec };
    const value = entry.value.value;
    return `<div class="field" data-key="${esc(def.name)}">` +
      `<label for="f-${esc(def.name)}">${esc(def.display_name || def.name)}` +
      `${def.required ? ' <span class="required">*</span>' : ""} <code>${esc(def.name)}</code></label>` +
      `${input(full, value)}<small class="doc">${esc(def.documentation)}</small>` +
      `<div class="error" data-error-for="${esc(def.name)}"></div></div>`;
  }

  function groupBox(fields, group) {
    const id = `group-${group || "other"}`;
    let box = [...fields.querySelectorAll("fieldset")].find((f) => f.dataset.group === id);
    if (!box) {
      fields.insertAdjacentHTML("beforeend",
        `<fieldset data-group="${esc(id)}"><legend>${esc(group || "Other")}</legend></fieldset>`);
      box = fields.lastElementChild;
    }
    return box;
  }

  function findField(fields, key) {
    return [...fields.querySelectorAll(".field")].find((f) => f.dataset.key === key);
  }

  // Add fields the form lacks (new transforms, converter options); never overwrite typed values.
  function addFields(fields, infos, skip) {
    for (const entry of infos.configs) {
      const key = entry.definition.name;
      if (skip.has(key) || findField(fields, key)) continue;
      groupBox(fields, entry.definition.group).insertAdjacentHTML("beforeend", field(entry));
    }
  }

  function showErrors(form, fields, infos) {
    const general = [];
    fields.querySelectorAll("[data-error-for]").forEach((slot) => { slot.textContent = ""; });
    fields.querySelectorAll(".field.invalid").forEach((f) => f.classList.remove("invalid"));
    for (const entry of infos.configs) {
      const errors = entry.value.errors || [];
      if (!errors.length) continue;
      const holder = findField(fields, entry.definition.name);
      if (holder) {
        holder.classList.add("invalid");
        holder.querySelector("[data-error-for]").textContent = errors.join(" ");
      } else {
        general.push(`${entry.definition.name}: ${errors.join(" ")}`);
      }
    }
    $("#form-errors", form).textContent = general.join("\n");
  }

  function form(name, initialPlugin) {
    const formEl = $("#connector-form");
    const select = $("#plugin");
    const fields = $("#fields");
    let original = {};
    let defaults = {};

    const plugin = () => select.value;

    function collect() {
      const config = { ...original };
      fields.querySelectorAll("[name]").forEach((el) => {
        const key = el.name;
        const value = el.value.trim();
        if (value === "") {
          delete config[key];
        } else if (key in original || value !== (defaults[key] ?? "")) {
          config[key] = value;
        }
      });
      config["connector.class"] = plugin();
      if (name) config.name = name;
      return config;
    }

    async function validate() {
      const { ok, data } = await call(
        "PUT", `/connector-plugins/${path(plugin())}/config/validate`, collect());
      if (!ok) {
        $("#form-errors").textContent = (data && data.message) || "validation failed";
        return null;
      }
      for (const entry of data.configs) {
        const key = entry.definition.name;
        if (!(key in defaults)) defaults[key] = entry.definition.default_value;
      }
      addFields(fields, data, new Set(["connector.class"]));
      showErrors(formEl, fields, data);
      return data;
    }

    async function load() {
      fields.innerHTML = "";
      $("#form-errors").textContent = "";
      if (!plugin()) return;
      const base = name ? { ...original } : { "connector.class": plugin() };
      const { ok, data } = await call(
        "PUT", `/connector-plugins/${path(plugin())}/config/validate`, base);
      if (!ok) {
        $("#form-errors").textContent = (data && data.message) || "cannot load the plugin";
        return;
      }
      defaults = {};
      for (const entry of data.configs) defaults[entry.definition.name] = entry.definition.default_value;
      addFields(fields, data, new Set(["connector.class"]));
      if (name) {
        const input = fields.querySelector('[name="name"]');
        if (input) input.readOnly = true;
      }
    }

    async function save(event) {
      event.preventDefault();
      say("Validating…", false);
      const infos = await validate();
      if (!infos) return;
      if (infos.error_count > 0) {
        say(`${infos.error_count} error(s): nothing was saved.`, true);
        return;
      }
      const config = collect();
      if (name) {
        const patch = {};
        for (const [key, value] of Object.entries(config)) {
          if (original[key] !== value) patch[key] = value;
        }
        for (const key of Object.keys(original)) if (!(key in config)) patch[key] = null;
        showDiff(patch);
        return;
      }
      finish(await call("POST", "/connectors", { name: config.name, config }), config.name);
    }

    function finish(result, target) {
      if (result.ok) {
        window.location.href = `/ui/connectors/${path(target)}`;
      } else {
        say((result.data && result.data.message) || `HTTP ${result.status}`, true);
      }
    }

    // The edit as a diff, applied only once confirmed.
    function showDiff(patch) {
      const box = $("#diff");
      const keys = Object.keys(patch).sort();
      if (!keys.length) {
        box.hidden = true;
        say("Nothing changed: nothing to apply.", false);
        return;
      }
      const shown = (v, fallback) => (v === undefined || v === null
        ? `<span class="muted">${DASH} not set${fallback !== undefined && fallback !== null
          ? ` (default <code>${esc(fallback)}</code>)` : ""}</span>`
        : `<code>${esc(v)}</code>`);
      box.innerHTML = `<h3>Changes to apply</h3><table id="diff-table"><thead><tr><th>Key</th>` +
        `<th>Now</th><th>After</th></tr></thead><tbody>` + keys.map((key) =>
        `<tr data-key="${esc(key)}" class="${patch[key] === null ? "removed" : key in original ? "changed" : "added"}">` +
        `<th>${esc(key)}</th><td class="before">${shown(original[key], defaults[key])}</td>` +
        `<td class="after">${shown(patch[key], defaults[key])}</td></tr>`).join("") + "</tbody></table>" +
        `<p><button type="button" id="apply">Apply ${keys.length} change(s)</button> ` +
        `<button type="button" id="cancel-diff">Cancel</button></p>`;
      box.hidden = false;
      box.scrollIntoView({ block: "nearest" });
      say("Review the changes, then apply them.", false);
      $("#apply").addEventListener("click", async () => {
        finish(await call("PATCH", `/connectors/${path(name)}/config`, patch), name);
      });
      $("#cancel-diff").addEventListener("click", () => {
        box.hidden = true;
        say("Not applied.", false);
      });
    }

    async function start() {
      const { data: list } = await call("GET", "/connector-plugins");
      select.innerHTML = '<option value="">choose a plugin…</option>' + (list || []).map((p) =>
        `<option value="${esc(p.class)}">${esc(p.class)} (${esc(p.type)})</option>`).join("");
      if (name) {
        const { ok, data } = await call("GET", `/ui/api/connectors/${path(name)}`);
        if (!ok) { say((data && data.message) || "not found", true); return; }
        original = data.config;
        const cls = original["connector.class"];
        if (![...select.options].some((o) => o.value === cls)) {
          select.insertAdjacentHTML("beforeend", `<option value="${esc(cls)}">${esc(cls)}</option>`);
        }
        select.value = cls;
        await load();
        fields.querySelectorAll("[name]").forEach((el) => {
          if (el.name in original) el.value = original[el.name];
        });
      } else {
        if (initialPlugin) select.value = initialPlugin;
        await load();
      }
    }

    select.addEventListener("change", load);
    $("#validate").addEventListener("click", validate);
    formEl.addEventListener("submit", save);
    start();
  }

  return { overview, detail, form };
})();

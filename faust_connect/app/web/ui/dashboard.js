// faust-connect dashboard: refreshes pages from /ui/api/* and calls Kafka Connect's REST API.
"use strict";

const FC = (() => {
  const POLL_MS = 2000;

  const esc = (value) =>
    String(value ?? "").replace(/[&<>"']/g, (c) => ({
      "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;",
    })[c]);
  const num = (value) => (value === null || value === undefined ? "-" : esc(value));
  const $ = (selector, root = document) => root.querySelector(selector);
  const path = (name) => encodeURIComponent(name);

  async function call(method, url, body) {
    const init = { method, headers: { "Content-Type": "application/json" } };
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await fetch(url, init);
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = { message: text }; }
    return { status: response.status, ok: response.ok, data };
  }

  function say(text, isError) {
    const box = $("#message");
    if (!box) return;
    box.textContent = text;
    box.className = isError ? "error" : "muted";
  }

  // -- tables (the same markup as dashboard.py renders) ---------------------------------------

  function taskCells(task) {
    const m = task.metrics;
    let worker = esc(task.worker_id);
    if (task.worker_status && task.worker_status !== "ok") {
      worker += ` <span class="warn">${esc(task.worker_status)}</span>`;
    }
    let cells = `<td class="state state-${esc(task.state)}">${esc(task.state)}</td><td>${worker}</td>`;
    if (!m) {
      cells += '<td colspan="5" class="muted">no metrics</td>';
    } else {
      const done = m.kind === "source" ? m.produced : m.put;
      cells += `<td>${num(m.rate)}</td><td>${num(done)}</td><td>${num(m.lag)}</td>` +
        `<td>${num(m.errors)}</td><td>${num(m.dead_lettered)}</td>`;
    }
    const trace = task.trace
      ? `<details><summary>trace</summary><pre class=trace>${esc(task.trace)}</pre></details>`
      : "";
    return cells + `<td class="trace-cell">${trace}</td>`;
  }

  function buttons(name) {
    const n = esc(name);
    return ["pause", "resume", "restart"].map((action) =>
      `<button data-action="${action}" data-connector="${n}">` +
      `${action[0].toUpperCase()}${action.slice(1)}</button>`).join(" ");
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
      rows.push(`<tr class="connector" data-connector="${name}">` +
        `<td><a href="/ui/connectors/${path(c.name)}">${name}</a> <span class="muted">${esc(c.type)}</span></td>` +
        `<td class="state state-${esc(c.connector.state)}">${esc(c.connector.state)}</td>` +
        `<td>${esc(c.connector.worker_id)}</td><td colspan="6">${buttons(c.name)}</td></tr>`);
      if (c.connector.trace) {
        rows.push(`<tr class="connector-trace"><td></td><td colspan="8"><pre class="trace">` +
          `${esc(c.connector.trace)}</pre></td></tr>`);
      }
      for (const t of c.tasks) {
        rows.push(`<tr class="task" data-connector="${name}" data-task="${esc(t.id)}">` +
          `<td class="task-id">task ${esc(t.id)}</td>${taskCells(t)}</tr>`);
      }
    }
    return rows.join("") || '<tr><td colspan="9" class="muted">No connectors yet.</td></tr>';
  }

  function poll(refresh) {
    const tick = async () => {
      try {
        await refresh();
        const stamp = $("#refreshed");
        if (stamp) stamp.textContent = `Updated ${new Date().toLocaleTimeString()}.`;
      } catch (e) {
        say(`Refresh failed: ${e}`, true);
      }
    };
    setInterval(tick, POLL_MS);
  }

  // -- actions --------------------------------------------------------------------------------

  const ACTIONS = {
    pause: (n) => call("PUT", `/connectors/${path(n)}/pause`),
    resume: (n) => call("PUT", `/connectors/${path(n)}/resume`),
    restart: (n) => call("POST", `/connectors/${path(n)}/restart?includeTasks=true&onlyFailed=false`),
  };

  function wireButtons(refresh) {
    document.addEventListener("click", async (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      const { action, connector } = button.dataset;
      const result = await ACTIONS[action](connector);
      if (result.ok) {
        say(`${action} ${connector}: accepted`, false);
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
    };
    wireButtons(refresh);
    poll(refresh);
  }

  function detail(name) {
    const refresh = async () => {
      const { ok, data } = await call("GET", `/ui/api/connectors/${path(name)}`);
      if (!ok) throw new Error((data && data.message) || "not found");
      const state = $("#connector-state");
      state.textContent = data.connector.state;
      state.className = `state state-${data.connector.state}`;
      const tasks = $("#tasks tbody");
      const open = openTraces(tasks);
      tasks.innerHTML = data.tasks.map((t) =>
        `<tr class="task" data-task="${esc(t.id)}"><td>task ${esc(t.id)}</td>${taskCells(t)}</tr>`).join("");
      reopen(tasks, open);
      $("#offsets tbody").innerHTML = data.offsets.map((o) =>
        `<tr><td><code>${esc(JSON.stringify(o.partition))}</code></td>` +
        `<td><code>${esc(JSON.stringify(o.offset))}</code></td></tr>`).join("") ||
        '<tr><td colspan="2" class="muted">none</td></tr>';
    };
    wireButtons(refresh);
    poll(refresh);
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
      let result;
      if (name) {
        const patch = {};
        for (const [key, value] of Object.entries(config)) {
          if (original[key] !== value) patch[key] = value;
        }
        for (const key of Object.keys(original)) if (!(key in config)) patch[key] = null;
        result = await call("PATCH", `/connectors/${path(name)}/config`, patch);
      } else {
        result = await call("POST", "/connectors", { name: config.name, config });
      }
      if (result.ok) {
        window.location.href = `/ui/connectors/${path(name || config.name)}`;
      } else {
        say((result.data && result.data.message) || `HTTP ${result.status}`, true);
      }
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

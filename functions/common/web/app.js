// The Integrations page (SPEC §14): a dependency-free ES module, embedded in the binary and
// served by the admin router. It builds every node with the DOM API (never innerHTML), so
// nothing a tenant or UC wrote can become markup, and it keeps the API key only in
// sessionStorage: never localStorage, a cookie or a URL.

const KEY = "ucc.key"; // sessionStorage: the API key of this tab
const TENANT = "ucc.gln"; // sessionStorage: the tenant the platform key is looking at

const store = window.sessionStorage;
const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- DOM helpers

/** An element: h("p", {class: "x", onclick: f}, "text", child, …). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Appends the nodes that are there (null, undefined and false are skipped). */
function add(parent, ...nodes) {
  for (const n of nodes.flat(Infinity)) if (n !== null && n !== undefined && n !== false) parent.append(n);
  return parent;
}

function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** Local time, with the exact UTC instant as a tooltip. */
function when(t) {
  if (!t) return h("span", { class: "muted" }, "—");
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return h("span", {}, String(t));
  return h("time", { datetime: t, title: t }, d.toLocaleString());
}

function pretty(v) {
  if (v === undefined || v === null) return "";
  if (typeof v === "string") {
    try {
      return JSON.stringify(JSON.parse(v), null, 2);
    } catch {
      return v;
    }
  }
  return JSON.stringify(v, null, 2);
}

let copyCount = 0;
/** A labelled, pretty-printed block with a copy button. */
function payload(label, value) {
  const text = pretty(value);
  const id = `pl-${++copyCount}`;
  const status = h("span", { class: "copied", role: "status" });
  return h(
    "div",
    { class: "payload" },
    h(
      "div",
      { class: "payload-head" },
      h("span", { id: `${id}-l`, class: "label" }, label),
      h(
        "button",
        {
          type: "button",
          class: "small",
          "aria-label": `Copy ${label.toLowerCase()}`,
          onclick: async () => {
            try {
              await navigator.clipboard.writeText(text);
              status.textContent = "Copied";
            } catch {
              // No clipboard permission: select the text so Ctrl+C copies it.
              const r = document.createRange();
              r.selectNodeContents($(id));
              const s = window.getSelection();
              s.removeAllRanges();
              s.addRange(r);
              status.textContent = "Selected: press Ctrl+C";
            }
          },
        },
        "Copy",
      ),
      status,
    ),
    h("pre", { id, tabindex: 0, "aria-labelledby": `${id}-l` }, text || "(empty)"),
  );
}

function badge(text, kind) {
  return h("span", { class: `badge ${kind || ""}` }, text);
}

const STATE_KIND = {
  ok: "good",
  delivered: "good",
  authBlocked: "bad",
  rejected: "bad",
  disabled: "warn",
  pending: "warn",
  held: "warn",
};

function stateBadge(s) {
  return badge(s, STATE_KIND[s] || "");
}

function codeBadge(code) {
  const c = Number(code);
  return badge(String(code), c >= 500 ? "bad" : c >= 400 ? "bad" : c >= 300 ? "warn" : c ? "good" : "");
}

/** A definition list from [label, value] rows (rows with an undefined value are left out). */
function facts(rows) {
  return h(
    "dl",
    { class: "facts" },
    rows
      .filter((r) => r && r[1] !== undefined)
      .map(([k, v]) => [h("dt", {}, k), h("dd", {}, v === null || v === "" ? h("span", { class: "muted" }, "—") : v)]),
  );
}

/** Any JSON object as rows, for records whose fields other versions may add. */
function generic(obj) {
  return facts(
    Object.entries(obj || {}).map(([k, v]) => [
      k,
      v !== null && typeof v === "object" ? h("code", { class: "wrap" }, JSON.stringify(v)) : String(v),
    ]),
  );
}

function note(text, kind) {
  return h("p", { class: `note ${kind || ""}`, role: kind === "error" ? "alert" : "status" }, text);
}

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
    this.field = this.body.field;
  }
}

async function api(method, path, body, extraHeaders) {
  const headers = { "x-api-key": store.getItem(KEY) || "", ...(extraHeaders || {}) };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    cache: "no-store",
    credentials: "omit",
    referrerPolicy: "no-referrer",
  });
  let data = null;
  const text = await res.text();
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { message: text };
  }
  if (res.status === 401) {
    signOut("Your key was refused (it may have been rotated). Sign in again.");
    throw new ApiError(401, data);
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return { data, headers: res.headers };
}

const tenantPath = (rest) => `/api/tenants/${encodeURIComponent(store.getItem(TENANT) || "")}${rest || ""}`;

// ---------------------------------------------------------------- session

const session = { platform: false };

/** A tenant key names its tenant: `ucck_<gln>_<secret>`. */
function glnOfKey(key) {
  const m = /^ucck_(\d{13})_/.exec(key);
  return m ? m[1] : null;
}

async function signIn(key) {
  const err = $("signin-error");
  err.hidden = true;
  store.setItem(KEY, key);
  const gln = glnOfKey(key);
  try {
    if (gln) {
      store.setItem(TENANT, gln);
      await api("GET", tenantPath());
      session.platform = false;
    } else {
      await api("GET", "/api/tenants");
      session.platform = true;
    }
  } catch (e) {
    store.removeItem(KEY);
    store.removeItem(TENANT);
    err.textContent =
      e.status === 401 || e.status === 403
        ? "This key was refused. Check that you pasted the whole key."
        : `Could not sign in: ${e.message}`;
    err.hidden = false;
    $("key").focus();
    return;
  }
  $("key").value = "";
  showApp();
  if (!location.hash || location.hash === "#/") location.hash = session.platform && !store.getItem(TENANT) ? "#/tenants" : "#/details";
  else route();
}

function signOut(message) {
  store.removeItem(KEY);
  store.removeItem(TENANT);
  session.platform = false;
  $("app").hidden = true;
  clear($("app"));
  $("who").hidden = true;
  $("signin").hidden = false;
  const err = $("signin-error");
  err.textContent = message || "";
  err.hidden = !message;
  $("key").focus();
}

// ---------------------------------------------------------------- tabs

const TABS = [
  ["details", "Details"],
  ["settings", "Advanced settings"],
  ["logs", "Logs"],
  ["deliveries", "Deliveries"],
  ["parked", "Parked"],
  ["drivers", "Drivers"],
];

function tabsFor() {
  const t = store.getItem(TENANT) ? [...TABS] : [];
  if (session.platform) t.push(["tenants", "Tenants"]);
  return t;
}

function showApp() {
  $("signin").hidden = true;
  $("app").hidden = false;
  $("who").hidden = false;
  const gln = store.getItem(TENANT);
  $("who-label").textContent = session.platform
    ? `Platform key${gln ? ` · tenant ${gln}` : ""}`
    : `Tenant ${gln}`;
}

/** Parses `#/tab/rest?query`. */
function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query] = raw.split("?");
  const [tab, ...rest] = path.split("/");
  return { tab: tab || "details", rest: rest.map(decodeURIComponent), params: new URLSearchParams(query || "") };
}

function renderTabs(active) {
  const list = h("div", { role: "tablist", "aria-label": "Integration", class: "tabs", id: "tabs" });
  for (const [id, label] of tabsFor()) {
    const selected = id === active;
    list.append(
      h(
        "button",
        {
          type: "button",
          role: "tab",
          id: `tab-${id}`,
          "aria-selected": selected ? "true" : "false",
          "aria-controls": "panel",
          tabindex: selected ? "0" : "-1",
          onclick: () => {
            location.hash = `#/${id}`;
          },
          onkeydown: tabKeys,
        },
        label,
      ),
    );
  }
  return list;
}

/** Arrow keys, Home and End move between tabs (and open the tab), as WAI-ARIA tabs do. */
function tabKeys(ev) {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const i = tabs.indexOf(ev.currentTarget);
  let next = null;
  if (ev.key === "ArrowRight") next = tabs[(i + 1) % tabs.length];
  else if (ev.key === "ArrowLeft") next = tabs[(i - 1 + tabs.length) % tabs.length];
  else if (ev.key === "Home") next = tabs[0];
  else if (ev.key === "End") next = tabs[tabs.length - 1];
  if (!next) return;
  ev.preventDefault();
  focusTab = next.id;
  location.hash = `#/${next.id.replace(/^tab-/, "")}`;
}

let focusTab = null;
let renderSeq = 0;

async function route() {
  if (!store.getItem(KEY)) return;
  const { tab, rest, params } = parseHash();
  const tabs = tabsFor();
  const known = tabs.find(([id]) => id === tab);
  const active = known ? tab : tabs.length ? tabs[0][0] : "details";
  const app = clear($("app"));
  showApp();
  app.append(renderTabs(active));
  const panel = h("section", {
    role: "tabpanel",
    id: "panel",
    "aria-labelledby": `tab-${active}`,
    tabindex: "0",
    class: "panel",
    "aria-busy": "true",
  });
  app.append(panel);
  if (focusTab) {
    const t = $(focusTab);
    focusTab = null;
    if (t) t.focus();
  }
  const seq = ++renderSeq;
  const view = VIEWS[active];
  try {
    await view(panel, rest, params, () => seq === renderSeq);
  } catch (e) {
    if (e.status !== 401) add(panel, note(e.message, "error"));
  } finally {
    panel.setAttribute("aria-busy", "false");
  }
}

// ---------------------------------------------------------------- Details

async function details(panel) {
  const { data: d } = await api("GET", tenantPath());
  const status = h(
    "div",
    { class: `status ${STATE_KIND[d.status] || ""}`, id: "connection" },
    h("strong", {}, "Connection: "),
    stateBadge(d.status),
    d.statusReason ? h("span", { class: "reason" }, ` ${d.statusReason}`) : null,
    d.statusSince ? h("span", { class: "since" }, " since ", when(d.statusSince)) : null,
  );
  const c = d.counts || {};
  const countLink = (n, label, href) =>
    h("a", { href, class: `count ${n > 0 ? "nonzero" : ""}`, id: `count-${label}` }, h("b", {}, String(n ?? 0)), ` ${label}`);
  const migration = d.migration
    ? h("div", { class: "migration", id: "migration" }, h("h3", {}, "Scheduled migration"), generic(d.migration))
    : null;
  const keyBox = h("div", { id: "key-box" });
  const key = d.apiKey;
  add(panel, 
    h("h2", {}, d.name || d.gln),
    status,
    migration,
    facts([
      ["GLN", d.gln],
      ["Mode", d.mode],
      [
        "Last delivery",
        d.lastDelivery
          ? h(
              "span",
              {},
              h("a", { href: `#/logs?ref=${encodeURIComponent(d.lastDelivery.transactionId || "")}` }, d.lastDelivery.transactionId || "?"),
              " · ",
              d.lastDelivery.kind || "",
              " · ",
              when(d.lastDelivery.deliveredAt),
            )
          : null,
      ],
      ["Log retention", `${d.logRetentionDays} days`],
    ]),
    h(
      "div",
      { class: "counts" },
      countLink(c.pending, "pending", "#/deliveries?state=pending"),
      countLink(c.rejected, "rejected", "#/deliveries?state=rejected"),
      countLink(c.held, "held", "#/deliveries?state=held"),
      countLink(c.parked, "parked", "#/parked"),
    ),
    h("h3", {}, "API key used by Utility Cloud"),
    facts([
      ["Key", key ? h("code", { id: "masked-key", class: "wrap" }, key.masked) : "none yet"],
      ["Created", key ? when(key.createdAt) : undefined],
    ]),
    keyBox,
  );
  rotateControls(keyBox);
}

function rotateControls(box) {
  clear(box);
  const start = h(
    "button",
    {
      type: "button",
      id: "rotate",
      onclick: () => {
        clear(box);
        const confirmBtn = h("button", { type: "button", class: "danger", id: "rotate-confirm", onclick: doRotate }, "Rotate now");
        add(box, 
          note("The current key stops working at once. Utility Cloud must be given the new key.", "warn"),
          h("div", { class: "row" }, confirmBtn, h("button", { type: "button", onclick: () => rotateControls(box) }, "Cancel")),
        );
        confirmBtn.focus();
      },
    },
    "Rotate key…",
  );
  add(box, start);
  async function doRotate() {
    clear(box);
    try {
      const { data } = await api("POST", tenantPath("/api-key"));
      // A tenant key was just revoked: keep this tab signed in with its successor.
      if (!session.platform) store.setItem(KEY, data.apiKey);
      add(box, 
        note("New key (shown once: copy it now, it cannot be shown again):", "warn"),
        payload("New API key", data.apiKey),
        h("button", { type: "button", onclick: () => route() }, "Done"),
      );
    } catch (e) {
      add(box, note(e.message, "error"));
    }
  }
}

// ---------------------------------------------------------------- Advanced settings

const SETTINGS = [
  // [field, label, kind, help]
  ["defaultSiteId", "Default site id", "int", "Site for drivers whose product has no mapping."],
  ["productSites", "Site per product code", "json", 'JSON object: product code → site id, e.g. {"LADEABO": 1042}.'],
  ["virtualTokenPrefix", "Virtual token prefix", "text", "Prefix of the virtual tokens the connector makes."],
  ["accountingPointPattern", "Accounting point pattern", "text", "Regular expression every accounting point id must match."],
  ["serviceBusTopic", "Service Bus topic", "text", "Topic UC publishes this tenant's contract events on."],
  ["sites", "Sites (revenue share)", "json", 'JSON object: site id → {"revenueShareId": n} or {"revenueShared": true}.'],
  ["tariffs", "Tariffs", "json", "JSON array of OCPI 2.2.1 tariffs."],
  ["siteTariffs", "Tariff per site", "json", "JSON object: site id → tariff id."],
  ["logRetentionDays", "Log retention (days)", "int", "How long request logs are kept (default 90)."],
];

function fieldOf(errField) {
  // `tariffs[0].elements` → `tariffs`; `sites.1042.revenueShareId` → `sites`
  const top = String(errField || "").split(/[.[]/)[0];
  return SETTINGS.find(([f]) => f === top) ? top : null;
}

async function settings(panel) {
  const { data, headers } = await api("GET", tenantPath("/settings"));
  let etag = headers.get("etag");
  const form = h("form", { id: "settings-form", novalidate: true, autocomplete: "off" });
  const banner = h("div", { id: "settings-banner" });
  const inputs = {};
  for (const [f, label, kind, help] of SETTINGS) {
    const v = data[f];
    const id = `set-${f}`;
    const common = { id, name: f, "aria-describedby": `${id}-help ${id}-err` };
    const input =
      kind === "json"
        ? h("textarea", { ...common, rows: f === "tariffs" ? 12 : 4, spellcheck: "false" }, v === null ? "" : JSON.stringify(v, null, 2))
        : h("input", {
            ...common,
            type: kind === "int" ? "number" : "text",
            inputmode: kind === "int" ? "numeric" : undefined,
            spellcheck: "false",
            value: v === null || v === undefined ? "" : String(v),
          });
    inputs[f] = { input, kind, initial: input.value ?? input.textContent };
    const extra = f === "accountingPointPattern" ? patternTester(input) : null;
    form.append(
      h(
        "div",
        { class: "field", id: `${id}-field` },
        h("label", { for: id }, label),
        input,
        h("small", { id: `${id}-help`, class: "help" }, help),
        h("p", { id: `${id}-err`, class: "error", hidden: true }),
        extra,
      ),
    );
  }
  const save = h("button", { type: "submit", class: "primary", id: "settings-save" }, "Save settings");
  form.append(h("div", { class: "row" }, save, h("button", { type: "button", onclick: () => route() }, "Discard changes")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear(banner);
    for (const f of Object.keys(inputs)) showFieldError(f, null);
    const patch = {};
    let bad = null;
    for (const [f, { input, kind, initial }] of Object.entries(inputs)) {
      const raw = input.value;
      if (raw === initial) continue; // unchanged: leave what is stored alone
      const s = raw.trim();
      if (s === "") patch[f] = null;
      else if (kind === "int") patch[f] = Number.isInteger(Number(s)) ? Number(s) : s;
      else if (kind === "json") {
        try {
          patch[f] = JSON.parse(s);
        } catch (e) {
          bad = bad || f;
          showFieldError(f, `${f}: not valid JSON (${e.message})`);
        }
      } else patch[f] = raw;
    }
    if (bad) {
      inputs[bad].input.focus();
      return;
    }
    if (!Object.keys(patch).length) {
      add(banner, note("Nothing changed.", ""));
      return;
    }
    save.disabled = true;
    try {
      const res = await api("PUT", tenantPath("/settings"), patch, etag ? { "if-match": etag } : {});
      etag = res.headers.get("etag") || etag;
      for (const [f, slot] of Object.entries(inputs)) {
        const v = res.data[f];
        slot.input.value = v === null || v === undefined ? "" : slot.kind === "json" ? JSON.stringify(v, null, 2) : String(v);
        slot.initial = slot.input.value;
      }
      add(banner, note("Settings saved.", "ok"));
    } catch (e) {
      if (e.status === 409) {
        add(banner, 
          note(
            "Not saved: these settings were changed by someone else since you opened them. Your edits are still in the form; reload to see the current settings, then apply your change again.",
            "error",
          ),
          h("button", { type: "button", id: "settings-reload", onclick: () => route() }, "Reload current settings"),
        );
      } else if (e.status === 422 && fieldOf(e.field)) {
        const f = fieldOf(e.field);
        showFieldError(f, e.message);
        inputs[f].input.focus();
        add(banner, note(`Not saved: ${e.message}`, "error"));
      } else {
        add(banner, note(`Not saved: ${e.message}`, "error"));
      }
    } finally {
      save.disabled = false;
    }
  });
  add(panel, 
    h("h2", {}, "Advanced settings"),
    h("p", { class: "muted" }, "Saved settings apply to the next event or session. The server checks every change."),
    banner,
    form,
  );
}

function showFieldError(f, message) {
  const id = `set-${f}`;
  const err = $(`${id}-err`);
  const input = $(id);
  if (!err || !input) return;
  err.textContent = message || "";
  err.hidden = !message;
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
  $(`${id}-field`).classList.toggle("invalid", !!message);
}

function patternTester(patternInput) {
  const probe = h("input", { type: "text", id: "pattern-probe", "aria-label": "Accounting point id to test", placeholder: "Accounting point id", spellcheck: "false" });
  const out = h("span", { id: "pattern-result", role: "status" });
  const test = () => {
    try {
      const re = new RegExp(patternInput.value, "u");
      const ok = re.test(probe.value);
      out.textContent = ok ? "matches" : "does not match";
      out.className = ok ? "ok" : "bad";
    } catch (e) {
      out.textContent = `the pattern is not a valid expression: ${e.message}`;
      out.className = "bad";
    }
  };
  return h(
    "div",
    { class: "row tester" },
    probe,
    h("button", { type: "button", id: "pattern-test", onclick: test }, "Test id"),
    out,
  );
}

// ---------------------------------------------------------------- Logs

const ACTIONS = [
  "",
  "ContractActivated",
  "ContractUpdated",
  "ContractTerminated",
  "SessionCompleted",
  "InvoiceLineImport",
  "CreateMeterValuesSeries",
  "GetTransaction",
  "Token",
];

const RANGES = [
  ["", "Any time"],
  ["1h", "Last hour"],
  ["24h", "Last 24 hours"],
  ["7d", "Last 7 days"],
  ["30d", "Last 30 days"],
  ["90d", "Last 90 days"],
];

async function logs(panel, rest, params, current) {
  if (rest[0]) return logEntry(panel, rest[0]);
  const p = (k) => params.get(k) || "";
  const q = h("input", { id: "log-q", name: "q", type: "search", value: p("q"), placeholder: "text in payloads" });
  const ref = h("input", { id: "log-ref", name: "ref", type: "search", value: p("ref"), placeholder: "transaction or accounting point id" });
  const since = h("select", { id: "log-since", name: "since" }, RANGES.map(([v, l]) => h("option", { value: v, selected: v === p("since") }, l)));
  const action = h("select", { id: "log-action", name: "action" }, ACTIONS.map((a) => h("option", { value: a, selected: a === p("action") }, a || "Any action")));
  const status = h(
    "select",
    { id: "log-status", name: "status" },
    ["", "2xx", "3xx", "4xx", "5xx"].map((s) => h("option", { value: s, selected: s === p("status") }, s || "Any status")),
  );
  const form = h(
    "form",
    { id: "log-form", class: "filters", role: "search" },
    h("label", {}, "Text", q),
    h("label", {}, "Reference id", ref),
    h("label", {}, "Time", since),
    h("label", {}, "Action", action),
    h("label", {}, "Status", status),
    h("button", { type: "submit", class: "primary", id: "log-search" }, "Search"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams();
    for (const [k, el] of [["q", q], ["ref", ref], ["since", since], ["action", action], ["status", status]]) {
      if (el.value.trim()) next.set(k, el.value.trim());
    }
    const h2 = `#/logs${next.toString() ? `?${next}` : ""}`;
    if (location.hash === h2) route();
    else location.hash = h2;
  });
  const list = h("ol", { id: "log-list", class: "entries", "aria-label": "Log entries, newest first" });
  const more = h("div", { class: "more" });
  add(panel, h("h2", {}, "Logs"), form, list, more);
  const query = new URLSearchParams();
  if (p("q")) query.set("q", p("q"));
  if (p("ref")) query.set("ref", p("ref"));
  if (p("since")) query.set("from", p("since"));
  if (p("action")) query.set("action", p("action"));
  if (p("status")) query.set("status", p("status"));
  await pageInto(tenantPath("/logs"), query, list, more, logItem, current, "No log entries match.");
}

/** Fills `list` with one page of `path`, and a "Load more" button while there is a cursor. */
async function pageInto(path, query, list, more, render, current, emptyText) {
  clear(more);
  const { data } = await api("GET", `${path}${query.toString() ? `?${query}` : ""}`);
  if (current && !current()) return;
  for (const item of data.items) list.append(render(item));
  if (!list.children.length) list.append(h("li", { class: "muted empty" }, emptyText));
  if (data.next) {
    const btn = h(
      "button",
      {
        type: "button",
        id: "load-more",
        onclick: async () => {
          btn.disabled = true;
          const q2 = new URLSearchParams(query);
          q2.set("cursor", data.next);
          try {
            await pageInto(path, q2, list, more, render, current, emptyText);
            const items = list.querySelectorAll(":scope > li");
            const first = items[items.length - data.items.length] || items[items.length - 1];
            const focusable = first && first.querySelector("button");
            if (focusable) focusable.focus();
          } catch (e) {
            add(more, note(e.message, "error"));
            btn.disabled = false;
          }
        },
      },
      "Load more",
    );
    add(more, btn);
  }
}

/** A list row that expands (button with aria-expanded) into its detail. */
function expandable(cls, summary, detail, open) {
  const region = h("div", { class: "detail", hidden: !open });
  let filled = false;
  const fill = () => {
    if (!filled) {
      region.append(detail());
      filled = true;
    }
  };
  if (open) fill();
  const btn = h(
    "button",
    {
      type: "button",
      class: "summary",
      "aria-expanded": open ? "true" : "false",
      onclick: () => {
        const o = btn.getAttribute("aria-expanded") !== "true";
        if (o) fill();
        btn.setAttribute("aria-expanded", o ? "true" : "false");
        region.hidden = !o;
      },
    },
    summary,
  );
  return h("li", { class: cls }, btn, region);
}

function logItem(e, open) {
  const dir = e.direction === "inbound" ? "⇦ in" : e.direction === "outbound" ? "⇨ out" : e.direction;
  return expandable(
    "entry log",
    [
      h("span", { class: "t" }, when(e.time)),
      h("span", { class: "dir" }, dir),
      h("span", { class: "action" }, e.action),
      codeBadge(e.responseCode),
      e.referenceId ? h("span", { class: "ref" }, e.referenceId) : null,
      e.reason ? h("span", { class: "reason" }, e.reason) : null,
    ],
    () =>
      h(
        "div",
        {},
        facts([
          ["Time", h("code", {}, e.time)],
          ["Endpoint", h("code", { class: "wrap" }, e.endpoint)],
          ["Outcome", e.outcome],
          ["Reason", e.reason],
          ["Event id", e.eventId],
          ["Duration", `${e.durationMs} ms`],
          ["Link", h("a", { href: `#/logs/${encodeURIComponent(e.id)}`, class: "share" }, "Link to this entry")],
        ]),
        payload(e.requestTruncated ? "Request (truncated)" : "Request", e.requestPayload),
        e.requestProperties ? payload("Request properties", e.requestProperties) : null,
        payload("Response", e.responseBody),
      ),
    open,
  );
}

/** `#/logs/<id>`: the one entry, found through the time its id starts with. */
async function logEntry(panel, id) {
  add(panel, h("h2", {}, "Log entry"), h("p", {}, h("a", { href: "#/logs" }, "← All logs")));
  const t = new Date(String(id).split("#")[0]);
  if (Number.isNaN(t.getTime())) {
    add(panel, note("This link does not name a log entry.", "error"));
    return;
  }
  const from = new Date(Math.floor(t.getTime() / 1000) * 1000);
  const to = new Date(from.getTime() + 1000);
  const q = new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), limit: "500" });
  const { data } = await api("GET", `${tenantPath("/logs")}?${q}`);
  const e = data.items.find((x) => x.id === id);
  if (!e) {
    add(panel, note("No such log entry (it may have expired).", "error"));
    return;
  }
  add(panel, h("ol", { class: "entries", id: "log-list" }, logItem(e, true)));
}

// ---------------------------------------------------------------- Deliveries

const DELIVERY_STATES = ["", "pending", "rejected", "held", "delivered"];

async function deliveries(panel, rest, params, current) {
  const state = params.get("state") || "";
  const select = h(
    "select",
    { id: "delivery-state", onchange: () => (location.hash = `#/deliveries${select.value ? `?state=${select.value}` : ""}`) },
    DELIVERY_STATES.map((s) => h("option", { value: s, selected: s === state }, s || "All states")),
  );
  const list = h("ol", { id: "delivery-list", class: "entries", "aria-label": "Deliveries" });
  const more = h("div", { class: "more" });
  const credit = creditForm();
  add(panel, h("h2", {}, "Deliveries to Utility Cloud"), h("div", { class: "filters" }, h("label", {}, "State", select)), list, more, credit);
  const q = new URLSearchParams();
  if (state) q.set("state", state);
  await pageInto(tenantPath("/deliveries"), q, list, more, deliveryItem, current, "No deliveries in this state.");
}

function deliveryItem(d) {
  const why = d.reason || d.lastResult;
  return expandable(
    `entry delivery state-${d.state}`,
    [
      h("span", { class: "ref" }, d.transactionId),
      stateBadge(d.state),
      h("span", { class: "kind" }, d.kind),
      d.lastStatus ? codeBadge(d.lastStatus) : null,
      why ? h("span", { class: "reason" }, typeof why === "string" ? why : JSON.stringify(why)) : null,
      d.waitingForAuth ? badge("waiting for auth", "bad") : null,
      d.reason === "awaitingSpotPrices" ? badge("awaiting spot prices", "warn") : null,
    ],
    () => deliveryDetail(d),
  );
}

function deliveryDetail(d) {
  const out = h("div", { class: "actions", role: "status" });
  const actions = h("div", { class: "row" });
  if (["rejected", "held", "pending"].includes(d.state)) {
    actions.append(
      h(
        "button",
        {
          type: "button",
          class: "primary retry",
          onclick: async (ev) => {
            ev.currentTarget.disabled = true;
            clear(out);
            try {
              const { data } = await api("POST", tenantPath(`/deliveries/${encodeURIComponent(d.transactionId)}/retry`));
              add(out, note(`Retried: now ${data.state}${data.lastResult ? ` (${data.lastResult})` : ""}.`, data.state === "delivered" ? "ok" : "warn"));
            } catch (e) {
              add(out, note(e.message, "error"));
              ev.target.disabled = false;
            }
          },
        },
        "Retry now",
      ),
    );
  }
  if (d.state === "delivered" && !d.creditedBy && !d.creditOf) {
    actions.append(
      h(
        "button",
        {
          type: "button",
          class: "credit",
          onclick: () => {
            const f = $("credit-form");
            $("credit-tx").value = d.transactionId;
            f.scrollIntoView({ block: "nearest" });
            $("credit-reason").focus();
          },
        },
        "Credit…",
      ),
    );
  }
  actions.append(h("a", { href: `#/logs?ref=${encodeURIComponent(d.transactionId)}`, class: "button-link" }, "Logs of this transaction"));
  const rest = { ...d };
  delete rest.payload;
  delete rest.lastResponse;
  return h(
    "div",
    {},
    generic(rest),
    actions,
    out,
    d.lastResponse !== undefined && d.lastResponse !== null ? payload("Utility Cloud's last answer", d.lastResponse) : null,
    payload("Payload sent to Utility Cloud", d.payload),
  );
}

function creditForm() {
  const tx = h("input", { id: "credit-tx", type: "text", required: true, spellcheck: "false" });
  const reason = h("input", { id: "credit-reason", type: "text", maxlength: "1000" });
  const out = h("div", { id: "credit-result" });
  const form = h(
    "form",
    { id: "credit-form", class: "card sub" },
    h("h3", {}, "Credit a delivered transaction"),
    h("label", { for: "credit-tx" }, "Transaction id"),
    tx,
    h("label", { for: "credit-reason" }, "Reason (optional)"),
    reason,
    h("button", { type: "submit", class: "primary", id: "credit-submit" }, "Issue credit"),
    out,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear(out);
    try {
      const body = { transactionId: tx.value.trim() };
      if (reason.value.trim()) body.reason = reason.value.trim();
      const { data } = await api("POST", tenantPath("/credits"), body);
      add(out, note(`Credit ${data.creditId || data.transactionId || ""} issued.`, "ok"), generic(data));
    } catch (e) {
      add(out, note(e.message, "error"));
    }
  });
  return form;
}

// ---------------------------------------------------------------- Parked

async function parked(panel, rest, params, current) {
  const list = h("ol", { id: "parked-list", class: "entries", "aria-label": "Parked messages" });
  const more = h("div", { class: "more" });
  add(panel, 
    h("h2", {}, "Parked messages"),
    h("p", { class: "muted" }, "Messages the connector could not process. Fix the cause (often an advanced setting), then replay."),
    list,
    more,
  );
  await pageInto(tenantPath("/parked"), new URLSearchParams(), list, more, parkedItem, current, "Nothing is parked.");
}

function parkedItem(p) {
  return expandable(
    "entry parked",
    [
      h("span", { class: "t" }, when(p.parkedAt)),
      badge(p.reason, "warn"),
      h("span", { class: "kind" }, p.kind),
      p.referenceId ? h("span", { class: "ref" }, p.referenceId) : null,
      h("span", { class: "reason" }, p.description),
    ],
    () => {
      const out = h("div", { role: "status" });
      const replay = h(
        "button",
        {
          type: "button",
          class: "primary replay",
          onclick: async () => {
            replay.disabled = true;
            clear(out);
            try {
              const { data } = await api("POST", tenantPath(`/parked/${encodeURIComponent(p.id)}/replay`));
              const outcome = data.outcome || data.state || "done";
              add(out, note(`Replayed: ${outcome}${data.reason ? ` (${data.reason})` : ""}.`, outcome === "parked" ? "warn" : "ok"), generic(data));
            } catch (e) {
              add(out, note(`Not replayed: ${e.message}`, "error"));
            } finally {
              replay.disabled = false;
            }
          },
        },
        "Replay",
      );
      const meta = { ...p };
      delete meta.body;
      delete meta.properties;
      return h("div", {}, generic(meta), h("div", { class: "row" }, replay), out, payload("Message", p.body), payload("Properties", p.properties));
    },
  );
}

// ---------------------------------------------------------------- Drivers

async function drivers(panel, rest, params, current) {
  const list = h("ol", { id: "driver-list", class: "entries", "aria-label": "Drivers" });
  const more = h("div", { class: "more" });
  add(panel, h("h2", {}, "Drivers"), list, more);
  await pageInto(tenantPath("/drivers"), new URLSearchParams(), list, more, driverItem, current, "No drivers yet.");
}

function driverItem(d) {
  const tokens = (d.tokens || []).filter((t) => t.active !== false).map((t) => `${t.value} (${t.kind})`);
  return expandable(
    "entry driver",
    [
      h("span", { class: "ref" }, d.externalId),
      badge(d.active ? "active" : "inactive", d.active ? "good" : ""),
      d.siteId !== undefined && d.siteId !== null ? h("span", {}, `site ${d.siteId}`) : null,
      d.productCode ? h("span", { class: "kind" }, d.productCode) : null,
      h("span", { class: "reason" }, tokens.join(", ")),
    ],
    () => h("div", {}, generic({ ...d, tokens: undefined }), payload("Tokens", d.tokens), payload("Last applied event", d.lastAppliedEvent)),
  );
}

// ---------------------------------------------------------------- Tenants (platform key)

async function tenants(panel, rest, params) {
  const { data } = await api("GET", "/api/tenants");
  const created = params.get("created");
  const replaced = params.get("replaced");
  const current = store.getItem(TENANT);
  const list = h(
    "ul",
    { id: "tenant-list", class: "entries" },
    data.items.map((t) =>
      h(
        "li",
        { class: "entry tenant" },
        h(
          "div",
          { class: "row" },
          h("span", { class: "ref" }, t.gln),
          h("strong", {}, t.name),
          h("span", { class: "kind" }, t.mode),
          h(
            "button",
            {
              type: "button",
              class: "open-tenant",
              "aria-pressed": t.gln === current ? "true" : "false",
              onclick: () => {
                store.setItem(TENANT, t.gln);
                location.hash = "#/details";
                route();
              },
            },
            t.gln === current ? "Open (current)" : "Open",
          ),
        ),
      ),
    ),
  );
  if (!data.items.length) list.append(h("li", { class: "muted empty" }, "No tenants yet."));
  const cfg = h("textarea", { id: "new-tenant", rows: 12, spellcheck: "false", "aria-describedby": "new-tenant-err" });
  const err = h("p", { id: "new-tenant-err", class: "error", hidden: true });
  const out = h("div", { id: "new-tenant-result" });
  if (created || replaced) add(out, note(`${created ? "Created" : "Replaced"} tenant ${created || replaced}.`, "ok"));
  const form = h(
    "form",
    { id: "tenant-form", class: "card sub" },
    h("h3", {}, "Create or replace a tenant"),
    h("label", { for: "new-tenant" }, "Tenant config (JSON, as for `ucc tenant put`)"),
    cfg,
    err,
    h("button", { type: "submit", class: "primary", id: "tenant-save" }, "Save tenant"),
    out,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear(out);
    err.hidden = true;
    let doc;
    try {
      doc = JSON.parse(cfg.value);
    } catch (e) {
      err.textContent = `Not valid JSON: ${e.message}`;
      err.hidden = false;
      cfg.focus();
      return;
    }
    const gln = doc && typeof doc.gln === "string" ? doc.gln : "";
    if (!/^\d{13}$/.test(gln)) {
      err.textContent = "gln: the config needs a 13-digit GLN";
      err.hidden = false;
      cfg.focus();
      return;
    }
    try {
      const { data: r } = await api("PUT", `/api/tenants/${gln}`, cfg.value);
      // Re-read the list; the outcome travels in the fragment so it survives the redraw.
      location.hash = `#/tenants?${r.created ? "created" : "replaced"}=${gln}`;
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
      cfg.focus();
    }
  });
  add(panel, h("h2", {}, "Tenants"), list, form);
}

const VIEWS = { details, settings, logs, deliveries, parked, drivers, tenants };

// ---------------------------------------------------------------- start

function start() {
  $("signin-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const k = $("key").value.trim();
    if (k) signIn(k);
  });
  $("sign-out").addEventListener("click", () => {
    location.hash = "";
    signOut();
  });
  window.addEventListener("hashchange", route);
  const key = store.getItem(KEY);
  if (key) {
    session.platform = !glnOfKey(key);
    showApp();
    route();
  } else {
    $("key").focus();
  }
  document.documentElement.dataset.ready = "true";
}

start();

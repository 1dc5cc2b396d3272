// The admin view (role admin): onboard a household with its devices (activation code and a printable
// letter), the lists of sites, devices and users with retire and revoke buttons, the CSV import of a meter
// list with its per-row report, and the audit trail. Every change goes through /api/v1/admin; its answer
// (or every validation problem) is shown and announced, and the lists are re-read.

import { el, state, enc, announce } from "./util.js";
import { t, lang } from "./i18n.js";

/** A request to the admin API: `{ status, body }`, never throwing for an HTTP error. */
async function call(method, path, body, type = "application/json") {
  const headers = { Authorization: "Bearer " + state.token };
  if (body !== undefined) headers["Content-Type"] = type;
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : (type === "application/json" ? JSON.stringify(body) : body) });
  let json = null;
  try { json = await r.json(); } catch (e) { /* no body */ }
  return { status: r.status, body: json };
}

/** The problem of a failed answer as text: every validation problem, one per line. */
const problemText = res => (res.body?.errors?.length ? res.body.errors.join("\n") : res.body?.detail) || "HTTP " + res.status;

const date = s => s ? new Date(s).toLocaleString(lang === "de" ? "de-DE" : "en-GB") : "–";

/**
 * `key=value, key=value` (or `key: value`) as a device source object (numbers for addresses, unit ids and
 * channels).
 */
function sourceOf(type, text) {
  const src = { type };
  for (const part of text.split(",").map(s => s.trim()).filter(Boolean)) {
    const i = part.includes("=") ? part.indexOf("=") : part.indexOf(":");
    if (i < 1) continue;
    const k = part.slice(0, i).trim(), v = part.slice(i + 1).trim();
    src[k] = ["address", "unit_id", "channel"].includes(k) && /^\d+$/.test(v) ? Number(v) : v;
  }
  return src;
}

function field(id, label, attrs = {}) {
  return el("p", {}, el("label", { for: id }, label), " ", el("input", { id, name: id, ...attrs }));
}

/** The printable activation letter (German, as the town writes to its residents). */
function letterHtml(h, address, name) {
  const url = location.origin + "/";
  const esc = s => String(s ?? "").replace(/[<>&"]/g, c => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]);
  return `<!doctype html><html lang="de"><head><meta charset="utf-8"><title>Zugang zu Ihrem Energiemonitor</title>
<style>body{font:12pt/1.5 serif;margin:2.5cm}h1{font-size:16pt}.code{font:bold 20pt monospace;letter-spacing:.1em;border:1px solid #000;padding:.3em .6em;display:inline-block}</style></head>
<body><p>${esc(name)}<br>${esc(address)}</p>
<h1>Zugang zu Ihrem Energiemonitor</h1>
<p>Guten Tag,</p>
<p>Ihr Haushalt ist an den Energiemonitor der Stadt angeschlossen. Mit dem folgenden Aktivierungscode erhalten Sie
Ihren persönlichen Zugang. Sie sehen nur die Werte Ihres Haushalts, und nur ab Ihrem Einzug.</p>
<p class="code">${esc(h.activation_code)}</p>
<ol><li>Öffnen Sie <strong>${esc(url)}</strong> im Browser.</li>
<li>Wählen Sie „Zugang aktivieren“ und geben Sie den Code ein (Groß- und Kleinschreibung egal).</li>
<li>Sie erhalten Ihr Zugangstoken. Bewahren Sie es gut auf; es wird nur einmal angezeigt.</li></ol>
<p>Der Code gilt bis ${esc(new Date(h.expires_at).toLocaleDateString("de-DE"))} und nur einmal. Haushalt: ${esc(h.site)}.</p>
<p>Mit freundlichen Grüßen<br>Ihre Stadtverwaltung</p></body></html>`;
}

function printLetter(html) {
  const w = window.open("", "zw-letter");
  if (!w) return;
  w.document.write(html);
  w.document.close();
  w.focus();
  w.print();
}

function householdForm(onDone) {
  const out = el("div", { id: "hh-result", role: "status" });
  const form = el("form", { id: "hh-form", "aria-labelledby": "hh-title" },
    el("h2", { id: "hh-title" }, t("admin.household")),
    field("hh-id", t("admin.hhId"), { required: true, pattern: "[a-z0-9][a-z0-9_\\-]*" }),
    field("hh-name", t("admin.name")),
    field("hh-address", t("admin.address")),
    field("hh-since", t("admin.since"), { type: "date", required: true }),
    el("fieldset", {}, el("legend", {}, t("admin.device")),
      field("hh-dev-id", t("admin.deviceId")),
      field("hh-dev-class", t("admin.class"), { value: "main_meter" }),
      el("p", {}, el("label", { for: "hh-dev-type" }, t("admin.sourceType")), " ",
        el("select", { id: "hh-dev-type" }, ...["shelly", "tasmota", "mbus", "wmbus", "modbus", "sml", "json", "ttn"].map(s => el("option", { value: s }, s)))),
      field("hh-dev-source", t("admin.sourceParams"), { placeholder: "prefix=shellypro3em-…", "aria-describedby": "hh-dev-hint" }),
      el("p", { id: "hh-dev-hint", class: "hint" }, t("admin.sourceHint"))),
    el("button", { type: "submit", id: "hh-create" }, t("admin.create")),
    out);
  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    const v = id => document.getElementById(id).value.trim();
    const devices = v("hh-dev-id") ? [{ id: v("hh-dev-id"), class: v("hh-dev-class"), source: sourceOf(v("hh-dev-type"), v("hh-dev-source")) }] : [];
    const body = { id: v("hh-id"), name: v("hh-name"), since: v("hh-since"), devices };
    if (v("hh-address")) body.address = v("hh-address");
    const res = await call("POST", "/api/v1/admin/households", body);
    if (res.status !== 201) {
      out.replaceChildren(el("pre", { class: "error", role: "alert", id: "hh-error" }, problemText(res)));
      return;
    }
    const letter = letterHtml(res.body, body.address, body.name);
    out.replaceChildren(
      el("p", {}, t("admin.created", res.body.site)),
      el("p", {}, t("admin.code"), " ", el("strong", { id: "hh-code", class: "code" }, res.body.activation_code)),
      el("p", {}, t("admin.expires", date(res.body.expires_at))),
      el("button", { type: "button", id: "hh-print", onclick: () => printLetter(letter) }, t("admin.print")));
    announce(t("admin.created", res.body.site));
    onDone();
  });
  return form;
}

function table(id, caption, head, rows) {
  return el("table", { id },
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, ...head.map(h => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows));
}

/** A button that runs `method path`, then says what happened and re-reads the lists. */
function action(label, name, method, path, reload, id) {
  return el("button", { type: "button", "aria-label": label + " " + name, "data-action": id, onclick: async () => {
    const res = await call(method, path);
    const msg = res.status < 300 ? t("admin.done", label, name) : t("admin.failed", problemText(res));
    announce(msg);
    document.getElementById("admin-msg").textContent = msg;
    reload();
  } }, label);
}

async function lists(box, reload) {
  const [sites, devices, users] = await Promise.all(["sites", "devices", "users"].map(e => call("GET", "/api/v1/admin/" + e)));
  box.replaceChildren(
    table("admin-sites", t("admin.sites"), [t("admin.id"), t("admin.name"), t("admin.kind"), ""],
      (sites.body || []).map(s => el("tr", { "data-site": s.id }, el("td", {}, s.id), el("td", {}, s.name), el("td", {}, t(s.kind)),
        el("td", {}, action(t("admin.retire"), s.id, "DELETE", "/api/v1/admin/sites/" + enc(s.id), reload, "retire-site-" + s.id))))),
    table("admin-devices", t("admin.devices"), [t("admin.id"), t("site"), t("admin.class"), t("admin.sourceType"), ""],
      (devices.body || []).map(d => el("tr", { "data-device": d.id }, el("td", {}, d.id), el("td", {}, d.site), el("td", {}, d.class), el("td", {}, d.source?.type),
        el("td", {}, action(t("admin.retire"), d.id, "DELETE", "/api/v1/admin/devices/" + enc(d.id), reload, "retire-device-" + d.id))))),
    table("admin-users", t("admin.users"), [t("admin.user"), t("admin.role"), t("admin.scope"), t("admin.since"), t("admin.tokens"), ""],
      (users.body || []).map(u => el("tr", { "data-user": u.name }, el("td", {}, u.name), el("td", {}, u.role), el("td", {}, u.scope.join(", ")),
        el("td", {}, u.since ? date(u.since) : "–"), el("td", {}, String(u.tokens)),
        el("td", {}, action(t("admin.revoke"), u.name, "DELETE", `/api/v1/admin/users/${enc(u.name)}/tokens`, reload, "revoke-" + u.name), " ",
          action(t("admin.retire"), u.name, "DELETE", "/api/v1/admin/users/" + enc(u.name), reload, "retire-user-" + u.name))))));
}

function importForm(reload) {
  const report = el("div", { id: "import-report", role: "status" });
  const text = el("textarea", { id: "import-csv", rows: 5, cols: 80, spellcheck: "false", "aria-describedby": "import-hint" });
  const file = el("input", { id: "import-file", type: "file", accept: ".csv,text/csv" });
  file.addEventListener("change", async () => { if (file.files[0]) text.value = await file.files[0].text(); });
  const form = el("form", { id: "import-form", "aria-labelledby": "import-title" },
    el("h2", { id: "import-title" }, t("admin.import")),
    el("p", { id: "import-hint", class: "hint" }, t("admin.importHint")),
    el("p", {}, el("label", { for: "import-file" }, t("admin.file")), " ", file),
    el("p", {}, el("label", { for: "import-csv" }, t("admin.csv")), el("br"), text),
    el("button", { type: "submit", id: "import-run" }, t("admin.importRun")),
    report);
  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    const res = await call("POST", "/api/v1/admin/devices/import", text.value, "text/csv");
    if (res.status !== 200) { report.replaceChildren(el("pre", { class: "error", role: "alert" }, problemText(res))); return; }
    const r = res.body;
    const summary = t("admin.importSummary", r.created, r.updated, r.unchanged, r.rejected);
    report.replaceChildren(el("p", { id: "import-summary" }, summary),
      table("import-rows", t("admin.importRows"), [t("admin.line"), t("admin.deviceId"), t("admin.result"), t("admin.reasons")],
        r.rows.map(row => el("tr", { "data-result": row.result }, el("td", {}, String(row.line)), el("td", {}, row.device),
          el("td", {}, t("admin.r." + row.result)), el("td", {}, row.errors.join("; "))))));
    announce(summary);
    reload();
  });
  return form;
}

async function audit(box) {
  const res = await call("GET", "/api/v1/admin/audit?limit=50");
  box.replaceChildren(table("admin-audit", t("admin.audit"), [t("time"), t("admin.actor"), t("admin.action"), t("admin.entity"), t("admin.id")],
    (res.body || []).map(a => el("tr", {}, el("td", {}, date(a.at)), el("td", {}, a.actor), el("td", {}, a.action), el("td", {}, a.entity), el("td", {}, a.entity_id)))));
}

/** The admin view. */
export async function view(main) {
  const listBox = el("section", { id: "admin-lists", "aria-label": t("admin.lists") });
  const auditBox = el("section", { id: "admin-audit-box", "aria-label": t("admin.audit") });
  const reload = async () => { await lists(listBox, reload); await audit(auditBox); };
  main.replaceChildren(
    el("h1", {}, t("view.admin")),
    el("p", { id: "admin-msg", role: "status" }),
    householdForm(reload),
    listBox,
    importForm(reload),
    auditBox);
  await reload();
  return { refresh: reload };
}

/** The resident's activation on the login page: the code from the letter → the token, shown once, then signed in. */
export function activationForm(signIn) {
  const out = el("div", { id: "activate-result", role: "status" });
  const form = el("form", { id: "activate-form", class: "login", "aria-labelledby": "activate-title" },
    el("h2", { id: "activate-title" }, t("activate.title")),
    el("label", { for: "activate-code" }, t("activate.code")),
    el("input", { id: "activate-code", autocomplete: "off", required: true }),
    el("button", { type: "submit" }, t("activate.run")),
    out);
  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    const r = await fetch("/api/v1/activate", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ code: document.getElementById("activate-code").value }) });
    const body = await r.json().catch(() => null);
    if (r.status !== 201) { out.replaceChildren(el("p", { class: "error", role: "alert" }, t("activate.failed", body?.detail || r.status))); return; }
    out.replaceChildren(el("p", {}, t("activate.token")), el("p", {}, el("code", { id: "activate-token" }, body.token)),
      el("button", { type: "button", onclick: () => signIn(body.token) }, t("activate.continue")));
    announce(t("activate.token"));
  });
  return form;
}

// The dashboard's entry point: token, settings, the views this token's sites allow, the live stream.
//
// Views (chosen in the URL fragment, e.g. `#view=building&site=rathaus`): `overview`, `building` and `alerts`
// for buildings, `home` for households, `business` for businesses, `trees` for parks. Each view module exports `render(main, params)`
// and returns `{ onLive(device), refresh() }`; live readings patch the values in place, the page is never
// rebuilt on an update. For the browser tests: with `?axe=1` the page runs the vendored axe-core once the view
// has loaded and writes the violations into `#axe-result`; `?click=<selector>` clicks that element once, and
// `?step=fill:<selector>=<value>&step=click:<selector>` fills and clicks in order.

import { el, state, api, enc, patch, announce } from "./util.js";
import { t, lang, setLang, watts, num } from "./i18n.js";
import * as facility from "./facility.js";
import * as overview from "./overview.js";
import * as resident from "./resident.js";
import * as parks from "./parks.js";
import * as business from "./business.js";
import * as admin from "./admin.js";

const VIEWS = {
  overview: { kind: "building", module: overview, fn: "overview" },
  building: { kind: "building", module: facility, fn: "building", hidden: true },
  alerts: { kind: null, module: facility, fn: "alerts" },
  home: { kind: "household", module: resident, fn: "home" },
  business: { kind: "business", module: business, fn: "shop" },
  trees: { kind: "park", module: parks, fn: "trees" },
  admin: { kind: "admin", module: admin, fn: "view" },
};
let current = null; // the shown view's controller
let clicked = false; // the test click is done (once per page load)

function params() {
  return new URLSearchParams(location.hash.slice(1));
}

function login(message) {
  const form = el("form", { class: "login" },
    el("p", {}, message || t("token.ask")),
    el("label", { for: "token" }, t("token.label")),
    el("input", { id: "token", type: "password", autocomplete: "off", required: true }),
    el("button", { type: "submit" }, t("login")));
  form.addEventListener("submit", ev => {
    ev.preventDefault();
    state.token = document.getElementById("token").value.trim();
    sessionStorage.setItem("zw-token", state.token);
    start();
  });
  const activate = admin.activationForm(token => { state.token = token; sessionStorage.setItem("zw-token", token); start(); });
  document.getElementById("main").replaceChildren(form, activate);
}

const kinds = () => new Set(state.sites.map(s => s.kind));
const allowed = () => Object.entries(VIEWS).filter(([name, v]) =>
  name === "alerts" ? kinds().has("building") : name === "admin" ? state.admin : v.kind === null || kinds().has(v.kind));

function nav(active) {
  const links = allowed().filter(([, v]) => !v.hidden).map(([name]) =>
    el("a", { href: "#view=" + name, "aria-current": name === active || (active === "building" && name === "overview") ? "page" : null, "data-nav": name }, t("view." + name)));
  document.getElementById("nav").replaceChildren(...links);
}

async function show() {
  const p = params();
  const names = allowed().map(([n]) => n);
  const name = names.includes(p.get("view")) ? p.get("view") : names[0];
  nav(name);
  const main = document.getElementById("main");
  if (!name) { main.replaceChildren(el("p", { class: "none" }, t("none"))); return; }
  const v = VIEWS[name];
  document.body.dataset.view = name;
  delete document.body.dataset.ready;
  current = null;
  try {
    current = await v.module[v.fn](main, p);
  } catch (e) {
    document.body.dataset.error = String(e && e.stack || e);
    main.append(el("p", { class: "error", role: "alert" }, String(e)));
    return;
  }
  document.body.dataset.ready = name;
  const test = new URLSearchParams(location.search);
  if (test.get("axe") === "1") runAxe();
  // Browser tests drive one click (e.g. an acknowledge button) with `?click=<selector>`.
  if (test.get("click") && !clicked) { clicked = true; document.querySelector(test.get("click"))?.click(); }
  // And a sequence of steps (`?step=fill:<selector>=<value>&step=click:<selector>`, in order, one task apart):
  // filling a form before submitting it.
  if (test.getAll("step").length && !stepped) { stepped = true; runSteps(test.getAll("step")); }
}

let stepped = false; // the test steps are done (once per page load)

async function runSteps(steps) {
  for (const step of steps) {
    await new Promise(r => setTimeout(r, 50));
    const [, kind, rest] = step.match(/^(fill|click):(.*)$/s) || [];
    if (kind === "click") document.querySelector(rest)?.click();
    if (kind === "fill") {
      const i = rest.lastIndexOf("=");
      const e = document.querySelector(rest.slice(0, i));
      if (e) { e.value = rest.slice(i + 1); e.dispatchEvent(new Event("change", { bubbles: true })); }
    }
  }
}

// Runs axe-core on the page and writes the violations (id, impact, how many nodes) into #axe-result.
function runAxe() {
  const s = el("script", { src: "/static/vendor/axe-core/axe.min.js" });
  s.onload = async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    const out = r.violations.map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, target: v.nodes[0]?.target?.join(" ") }));
    let box = document.getElementById("axe-result");
    if (!box) { box = el("pre", { id: "axe-result", hidden: true }); document.body.append(box); }
    box.textContent = JSON.stringify(out);
  };
  document.head.append(s);
}

function applyLive(r) {
  const cur = state.live.get(r.device) || { values: {} };
  for (const [q, v] of Object.entries(r.values)) cur.values[q] = { value: v, ts: r.ts };
  cur.ts = r.ts;
  state.live.set(r.device, cur);
  for (const [q, v] of Object.entries(r.values)) {
    patch(`[data-live="${CSS.escape(r.device + ":" + q)}"]`, q === "active_power" ? watts(v) : num(v, 1));
  }
  current?.onLive?.(r.device);
}

async function follow() {
  // EventSource cannot send an Authorization header, so the stream is read with fetch.
  for (;;) {
    try {
      const r = await fetch("/api/v1/stream", { headers: { Authorization: "Bearer " + state.token } });
      if (!r.ok) throw new Error("stream " + r.status);
      document.getElementById("status").textContent = t("live");
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i); buf = buf.slice(i + 2);
          const data = block.split("\n").filter(l => l.startsWith("data:")).map(l => l.slice(5).trim()).join("\n");
          if (block.includes("event: reading") && data) applyLive(JSON.parse(data));
        }
      }
    } catch (e) { /* reconnect below */ }
    document.getElementById("status").textContent = t("offline");
    await new Promise(res => setTimeout(res, 2000));
  }
}

// Health changes without readings (a gateway going away): re-read the sites and patch the badges.
async function refreshSites() {
  try {
    state.sites = await api("/api/v1/sites");
    for (const s of state.sites) {
      for (const x of [s, ...s.devices]) {
        const h = x.health?.state || "unknown";
        for (const b of document.querySelectorAll(`[data-health-of="${CSS.escape(x.id)}"]`)) {
          if (b.dataset.health !== h) { b.dataset.health = h; b.className = "health " + h; b.textContent = t("health." + h); }
        }
      }
    }
    current?.refresh?.();
  } catch (e) { /* keep the last list */ }
}

let started = false;
async function start() {
  const p = params();
  if (p.has("token")) {
    state.token = p.get("token");
    sessionStorage.setItem("zw-token", state.token);
    p.delete("token");
    history.replaceState(null, "", location.pathname + location.search + (p.toString() ? "#" + p : ""));
  } else {
    state.token = sessionStorage.getItem("zw-token");
  }
  if (!state.token) return login();
  document.getElementById("main").replaceChildren(el("p", { class: "none" }, t("loading")));
  try {
    state.settings = { ...state.settings, ...(await fetch("/dashboard/settings.json").then(r => r.json()).catch(() => ({}))) };
    state.sites = await api("/api/v1/sites");
    // The admin view for admins only: the admin API answers 200 to them (403 to everyone else).
    state.admin = await fetch("/api/v1/admin/audit?limit=1", { headers: { Authorization: "Bearer " + state.token } })
      .then(r => r.ok).catch(() => false);
    await Promise.all(state.sites.map(async s => {
      const l = await api(`/api/v1/sites/${enc(s.id)}/live`).catch(() => ({ devices: [] }));
      for (const d of l.devices) {
        const values = {};
        for (const [q, v] of Object.entries(d.values)) values[q] = { value: v.value, ts: v.ts };
        state.live.set(d.device, { ts: d.ts, values });
      }
    }));
  } catch (e) {
    if (e.message !== "401") document.getElementById("main").replaceChildren(el("p", { class: "error", role: "alert" }, String(e)));
    return;
  }
  await show();
  if (!started) {
    started = true;
    window.addEventListener("hashchange", () => show());
    setInterval(refreshSites, 30000);
    setInterval(() => current?.refresh?.(), 60000);
    follow();
  }
}

function translateChrome() {
  document.documentElement.lang = lang;
  document.getElementById("lang").textContent = t("switch");
  document.getElementById("lang").setAttribute("lang", lang === "de" ? "en" : "de");
  document.querySelector(".skip").textContent = t("skip");
  document.getElementById("nav").setAttribute("aria-label", t("views"));
}

// Errors end up on the page (and in the browser tests' DOM), never only in a console nobody reads.
window.addEventListener("error", e => { document.body.dataset.error = String(e.error?.stack || e.message); });
window.addEventListener("unhandledrejection", e => { document.body.dataset.error = String(e.reason?.stack || e.reason); });

state.onUnauthorized = () => {
  sessionStorage.removeItem("zw-token");
  state.token = null;
  login(t("token.bad"));
};
document.getElementById("lang").addEventListener("click", () => {
  setLang(lang === "de" ? "en" : "de");
  translateChrome();
  announce(t("switch"));
  if (state.token && state.sites.length) show();
});
translateChrome();
start();

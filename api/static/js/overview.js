// Facility managers: the town overview, every building in scope at a glance, sorted by what needs attention:
// open alerts, health, today so far against the building's learned normal (flagged outside the normal's
// p10–p90 band; one request for all buildings, `/api/v1/normal`) and this month against last year.

import { el, state, api, enc, sitePower, patch } from "./util.js";
import { t, watts, kwh, pct, num } from "./i18n.js";
import { MEDIA, siteMedia, chosen, picker, amount, value, query, unit } from "./media.js";
import { reportButton } from "./facility.js";

const buildings = () => state.sites.filter(s => s.kind === "building");
const badge = x => { const h = x.health?.state || "unknown"; return el("span", { class: "health " + h, "data-health": h, "data-health-of": x.id }, t("health." + h)); };
const SEVERITY = { critical: 3, warning: 2, info: 1 };

/** Runs `jobs` (functions returning promises) at most `n` at a time. */
async function limited(jobs, n) {
  const queue = [...jobs];
  await Promise.all(Array.from({ length: Math.min(n, queue.length) }, async () => { while (queue.length) await queue.shift()(); }));
}

/** The share of the running month that has passed (0–1), for a linear projection. */
function monthElapsed(now = new Date()) {
  const start = new Date(now.getFullYear(), now.getMonth(), 1), end = new Date(now.getFullYear(), now.getMonth() + 1, 1);
  return (now - start) / (end - start);
}

const energyText = (p, m = "electricity") => value(p, m) === null ? "–" : amount(p, m) + (p.complete ? "" : " *");

// ---------------------------------------------------------------------------------------------- overview

export async function overview(main, p) {
  // The media some building has meters for; the energy columns show the chosen one (power stays electricity).
  const media = MEDIA.filter(m => buildings().some(s => siteMedia(s).includes(m)));
  const medium = chosen(p, media);
  const alerts = await api("/api/v1/alerts").catch(() => []);
  const open = new Map();
  for (const a of alerts) open.set(a.site, [...(open.get(a.site) || []), a]);
  const score = new Map(); // site -> attention score
  const ratios = new Map(), normals = new Map(); // site -> this month against last year; site -> today against normal
  // Alerts first (by severity), then a building out of its normal band today (the further, the higher), then
  // health, then how far this month runs above last year's.
  const attention = s => {
    const as = open.get(s.id) || [];
    const h = s.health?.state, ratio = ratios.get(s.id), n = normals.get(s.id);
    return as.reduce((n, a) => n + 10 * (SEVERITY[a.severity] || 1), 0) + (h === "offline" ? 8 : h === "degraded" || h === "stale" ? 4 : 0)
      + (n?.outside ? 5 + Math.min(Math.abs(n.ratio ?? 0), 3) : 0)
      + (ratio !== null && ratio !== undefined ? Math.max(-1, Math.min(ratio, 3)) : 0);
  };
  const rows = new Map();
  const tbody = el("tbody");
  for (const s of buildings()) {
    score.set(s.id, attention(s));
    const n = (open.get(s.id) || []).length;
    rows.set(s.id, el("tr", { "data-site": s.id },
      el("th", { scope: "row" }, el("a", { href: `#view=building&site=${enc(s.id)}` }, s.name || s.id)),
      el("td", {}, badge(s)),
      el("td", { class: "num", "data-site-power": s.id }, watts(sitePower(s))),
      el("td", { class: "num", "data-energy": s.id + ":today" }, "…"),
      el("td", { class: "num", "data-normal": s.id }, "…"),
      el("td", { class: "num", "data-energy": s.id + ":month" }, "…"),
      el("td", { class: "num", "data-energy": s.id + ":last-month" }, "…"),
      el("td", { class: "num", "data-energy": s.id + ":last-year" }, "…"),
      el("td", { class: "num", "data-energy": s.id + ":change" }, "…"),
      el("td", { class: "num", "data-per-area": s.id }, "…"),
      el("td", { class: "num" + (n ? " warn" : ""), "data-open-alerts": s.id }, String(n))));
  }
  const sort = () => {
    const order = [...rows.keys()].sort((a, b) => score.get(b) - score.get(a));
    for (const id of order) tbody.append(rows.get(id)); // moves the rows, keeps them
  };
  sort();
  const head = ["site", "health", "power", "today", "ov.normal", "month", "lastMonth", "lastYear", "change", "perArea", "alertsOpen"];
  const table = el("table", { class: "overview" },
    el("caption", {}, t("overview.caption") + ". " + t("attention") + ". " + "* = " + t("incomplete") + ". " + t("ov.normalHint")),
    el("thead", {}, el("tr", {}, head.map((h, i) => el("th", { scope: "col", class: i > 1 ? "num" : null },
      h === "ov.normal" ? t(h) : h === "change" ? t("change") + " (" + t("lastYear") + ")" : h === "perArea" ? t("perArea") + " (12 " + t("monthly.short") + ", " + t("medium.electricity") + ")"
        : ["today", "month", "lastMonth", "lastYear"].includes(h) ? t(h) + " (" + unit(medium) + ")" : t(h))))),
    tbody);
  main.replaceChildren(el("h2", {}, t("overview.title")), picker(media, medium), el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": t("overview.title") }, table),
    el("p", { class: "no-print" }, reportButton("/api/v1/report?format=html&year=" + (new Date().getFullYear() - 1))));
  // From navigation start to the table with every building (live power in it) on the page.
  document.body.dataset.firstPaintMs = Math.round(performance.now());
  const fill = async s => {
    const base = `/api/v1/sites/${enc(s.id)}/energy?count=1` + query(medium);
    try {
      const [day, month, year] = await Promise.all([api(base + "&period=day"), api(base + "&period=month"),
        api(base + "&period=month&compare=previous_year")]);
      patch(`[data-energy="${CSS.escape(s.id)}:today"]`, energyText(day.total, medium), tbody);
      patch(`[data-energy="${CSS.escape(s.id)}:month"]`, energyText(month.total, medium), tbody);
      patch(`[data-energy="${CSS.escape(s.id)}:last-month"]`, energyText(month.previous_total, medium), tbody);
      patch(`[data-energy="${CSS.escape(s.id)}:last-year"]`, energyText(year.previous_total, medium), tbody);
      // This month projected linearly against the same month last year (in m³ for gas and water).
      const f = monthElapsed(), now = value(month.total, medium), then = value(year.previous_total, medium);
      const ratio = now !== null && then ? (now / Math.max(f, 0.01)) / then - 1 : null;
      patch(`[data-energy="${CSS.escape(s.id)}:change"]`, pct(ratio), tbody);
      ratios.set(s.id, ratio);
      score.set(s.id, attention(s));
    } catch (e) {
      for (const k of ["today", "month", "last-month", "last-year", "change"]) patch(`[data-energy="${CSS.escape(s.id)}:${k}"]`, "–", tbody);
    }
  };
  // kWh per m² of floor area over the last 12 months, from the town ranking (a building without a floor area: –).
  const perArea = api("/api/v1/ranking?period=month&count=12&by=wh_per_m2").then(r => {
    for (const x of r.sites) patch(`[data-per-area="${CSS.escape(x.site)}"]`, x.kwh_per_m2 === null || x.kwh_per_m2 === undefined ? "–" : num(x.kwh_per_m2, 1), tbody);
  }).catch(() => patch("[data-per-area]", "–", tbody));
  // Today so far against each building's learned normal of the same hours, all buildings in one request.
  const normal = api("/api/v1/normal").then(r => {
    for (const x of r.sites) {
      const cell = tbody.querySelector(`[data-normal="${CSS.escape(x.site)}"]`);
      if (!cell) continue;
      const n = x.today;
      if (!n || n.ratio === null || n.ratio === undefined) {
        cell.replaceChildren("–");
        cell.title = n ? t("ov.normalNotYet") : x.reason || t("normal.none");
        continue;
      }
      normals.set(x.site, n);
      const s = buildings().find(b => b.id === x.site);
      if (s) score.set(x.site, attention(s));
      cell.dataset.ratio = n.ratio.toFixed(4);
      cell.dataset.outside = n.outside ? "1" : "0";
      cell.classList.toggle("warn", !!n.outside);
      cell.title = t("normal.detail", kwh(n.measured_wh), kwh(n.normal_wh), kwh(n.normal_day_wh));
      cell.replaceChildren(pct(n.ratio), n.outside ? el("span", { class: "flag" }, " ⚠", el("span", { class: "sr-only" }, " " + t("ov.outside"))) : "");
    }
  }).catch(() => patch("[data-normal]", "–", tbody));
  await Promise.all([limited(buildings().map(s => () => fill(s)), 6), normal]);
  await perArea;
  sort();
  return {
    onLive(device) {
      const s = buildings().find(b => b.devices.some(d => d.id === device));
      if (s) patch(`[data-site-power="${CSS.escape(s.id)}"]`, watts(sitePower(s)));
    },
  };
}

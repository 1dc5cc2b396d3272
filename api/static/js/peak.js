// The peak watch panel (issue 24), shared by the facility managers' building view and the business view:
// from `/api/v1/sites/{id}/peak` the billing year's highest quarter hour, the demand charge on it so far
// and for the year, the running quarter hour, and the year's top 10 quarter hours with what ran in each
// (the site's sub-meters and plugs by kWh). Hidden unless the site's tariff has a demand charge.

import { el, api } from "./util.js";
import { t, num, kwh, money, dateTime, time } from "./i18n.js";

const QUARTER_MS = 15 * 60 * 1000;
const eur = c => (c === null || c === undefined ? null : c / 100);
const kw = v => (v === null || v === undefined || !Number.isFinite(v) ? "–" : num(v, 1) + " kW");
const cost = (m, cur) => (m && m.gross_cents !== undefined ? money(eur(m.gross_cents), cur) : "–");
const span = start => dateTime(start) + "–" + time(Date.parse(start) + QUARTER_MS);

/** What ran in a quarter hour: the devices with their energy, highest first ("–" for an unknown one). */
function ran(devices) {
  if (!devices || !devices.length) return t("peak.noSubmeters");
  return devices.map(d => (d.name || d.device) + " " + kwh(d.wh)).join(", ");
}

/** The top quarter hours as a table (rank, quarter hour, average power, what ran). */
function topTable(top) {
  const rows = top.slice(0, 10).map((q, i) => el("tr", { "data-peak-quarter": q.start },
    el("td", { class: "num" }, String(i + 1)), el("th", { scope: "row" }, span(q.start)),
    el("td", { class: "num" }, kw(q.kw)), el("td", { "data-peak-ran": "" }, ran(q.devices))));
  return el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": t("peak.top") },
    el("table", { class: "peaks", "data-peak-top": String(rows.length) },
      el("caption", {}, t("peak.top")),
      el("thead", {}, el("tr", {}, [t("peak.rank"), t("peak.quarter"), t("peak.avg"), t("peak.ran")].map(h => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows)));
}

/**
 * Fills `box` (a hidden section) from `${base}/peak` (`data-peak-panel="shown"`); leaves it hidden without a
 * demand charge (`"none"`) or when the API does not answer (`"error"`).
 */
export async function peakPanel(box, base) {
  const r = await api(`${base}/peak`).catch(() => null);
  if (!r || r.demand_eur_per_kw_year === null || r.demand_eur_per_kw_year === undefined) {
    box.hidden = true;
    box.dataset.peakPanel = r ? "none" : "error";
    return;
  }
  const top = Array.isArray(r.top) ? r.top : [];
  const id = "peak-h-" + String(r.subject || "").replace(/[^A-Za-z0-9_-]/g, "-");
  const running = r.running
    ? t("peak.elapsed", Math.round(r.running.elapsed_s / 60)) + " · " + span(r.running.start) : t("peak.noRunning");
  box.setAttribute("aria-labelledby", id);
  box.replaceChildren(el("h3", { id }, t("peak.title")),
    el("div", { class: "kpis" },
      el("div", { class: "kpi" }, el("span", {}, t("peak.year")), el("b", { "data-peak": "kw" }, kw(r.peak?.kw)),
        el("small", {}, r.peak ? span(r.peak.start) + (r.complete ? "" : " · " + t("incomplete")) : t("noData"))),
      el("div", { class: "kpi" }, el("span", {}, t("peak.running")), el("b", { "data-peak": "running" }, kw(r.running?.kw)),
        el("small", {}, running)),
      el("div", { class: "kpi" }, el("span", {}, t("peak.cost")), el("b", { "data-peak": "cost" }, cost(r.cost_year, r.currency)),
        el("small", {}, t("soFar") + ": " + cost(r.cost_so_far, r.currency) + " · " + t("peak.price", money(r.demand_eur_per_kw_year, r.currency))))),
    top.length ? topTable(top) : el("p", { class: "none" }, t("noData")));
  box.dataset.peakPanel = "shown";
  box.hidden = false;
}

// Media (electricity, heat, gas, water): which a site has meters for, the picker, and how an energy report's
// period is shown in the medium's unit. Electricity and heat are kWh; water is m³; gas is m³ and, where the
// site has a gas conversion (Brennwert × Zustandszahl), also kWh. The energy reports say which (`unit`).
// The media table (`mediaTable`, `fillMedia`): per medium this month and last month, their cost under the
// site's tariffs of that medium (`/cost?medium=`), and the year's CO₂ so far (the Energiebericht of the
// running year, `/report?year=`) or the year's projected cost (`/forecast?medium=`); a figure that cannot be
// known is "–" with the reason (no tariff, no emission factor, no gas conversion), never 0.

import { el, enc, state } from "./util.js";
import { t, kwh, num, money } from "./i18n.js";

export const MEDIA = ["electricity", "heat", "gas", "water"];
const METER = { heat: "heat_meter", gas: "gas_meter", water: "water_meter" };

/** The media `site` has meters for: electricity unless every device is a heat, gas or water meter. */
export function siteMedia(site) {
  const other = new Set(Object.values(METER));
  const has = MEDIA.filter(m => METER[m] ? site.devices.some(d => d.class === METER[m]) : true);
  const onlyOther = site.devices.length && site.devices.every(d => other.has(d.class) || d.class === "soil_sensor");
  return onlyOther ? has.filter(m => m !== "electricity") : has;
}

/** The medium named in the view's parameters if it is one of `media`, else the first of them. */
export function chosen(p, media) {
  const m = p.get("medium");
  return media.includes(m) ? m : media[0] || "electricity";
}

export const byVolume = m => m === "gas" || m === "water";

/** The unit bars and ratios of `m` are in. */
export const unit = m => byVolume(m) ? "m³" : "kWh";

export const m3 = v => v === null || v === undefined ? "–" : num(v, Math.abs(v) < 10 ? 2 : Math.abs(v) < 100 ? 1 : 0) + " m³";

/** A period's amount as text: kWh, m³, or for gas m³ with its kWh where a conversion is known. */
export function amount(p, m) {
  if (m === "water") return m3(p.m3);
  if (m === "gas") return p.m3 === null || p.m3 === undefined ? "–" : m3(p.m3) + (p.wh === null || p.wh === undefined ? "" : " · " + kwh(p.wh));
  return kwh(p.wh);
}

/** A period's amount as a number in [`unit`] (null when unknown), for bars and ratios. */
export function value(p, m) {
  const v = byVolume(m) ? p.m3 : p.wh === null || p.wh === undefined ? null : p.wh / 1000;
  return v === null || v === undefined ? null : v;
}

/** `&medium=…` for an energy query (nothing for electricity, the API's default). */
export const query = m => m === "electricity" ? "" : "&medium=" + enc(m);

/**
 * A labelled select of `media` with `current` chosen; picking one sets `medium` in the page's fragment
 * (the view is drawn again for it). Null when there is only one medium to show.
 */
export function picker(media, current) {
  if (media.length < 2) return null;
  const sel = el("select", { id: "medium", "data-medium": current, onchange: e => {
    const p = new URLSearchParams(location.hash.slice(1));
    p.set("medium", e.target.value);
    location.hash = p.toString();
  } }, media.map(m => el("option", { value: m, selected: m === current }, t("medium." + m))));
  return el("p", { class: "controls no-print" }, el("label", { for: "medium" }, t("medium") + " "), sel,
    byVolume(current) ? el("span", { class: "hint" }, " " + t("medium.note." + current)) : null);
}

// ---------------------------------------------------------------------------------------------- per medium

/** `path` as JSON, or the reason it is not there (the API's problem detail, else the status). */
async function attempt(path) {
  const r = await fetch(path, { headers: { Authorization: "Bearer " + state.token } });
  if (r.status === 401) state.onUnauthorized();
  if (r.ok) return { data: await r.json() };
  const p = await r.json().catch(() => null);
  return { status: r.status, reason: p?.detail || "HTTP " + r.status };
}

/** CO₂ in kg as "850 kg" or "12,35 t". */
export const co2 = kg => kg === null || kg === undefined ? "–" : kg < 1000 ? num(kg, 0) + " kg" : num(kg / 1000, 2) + " t";

const eur = c => c === null || c === undefined ? null : c / 100;

/**
 * The figures of `media`: this month and last month in the medium's unit, their gross cost (net in the title
 * and a small line) and, as `last`, either the year's CO₂ so far (`"co2"`, the facility manager's: a table,
 * one row per medium) or the year's projected cost (`"forecast"`, the resident's: a card per medium, narrow
 * enough for a phone). Each figure is an element `data-media="<medium>:<key>"`, filled by [`fillMedia`].
 */
export function mediaTable(media, last) {
  const keys = ["month", "last-month", "cost", "last-cost", last];
  const cols = [t("month"), t("lastMonth"), t("media.cost"), t("media.lastCost"),
    last === "co2" ? t("media.co2", new Date().getFullYear()) : t("media.yearCost")];
  const name = m => t("medium." + m) + " (" + unit(m) + ")";
  if (last !== "co2") {
    return el("div", { class: "kpis media", style: "grid-template-columns:repeat(auto-fit, minmax(260px, 1fr))", "data-media-table": last }, media.map(m => el("div", { class: "kpi", "data-media-row": m },
      el("h4", {}, name(m)), el("dl", { class: "cost" }, keys.flatMap((k, i) => [el("dt", {}, cols[i]), el("dd", { "data-media": m + ":" + k }, "…")])))));
  }
  return el("table", { class: "media", "data-media-table": last }, el("caption", {}, t("media.caption")),
    el("thead", {}, el("tr", {}, [t("medium"), ...cols].map((c, i) => el("th", { scope: "col", class: i ? "num" : null }, c)))),
    el("tbody", {}, media.map(m => el("tr", { "data-media-row": m }, el("th", { scope: "row" }, name(m)),
      keys.map(k => el("td", { class: "num", "data-media": m + ":" + k }, "…"))))));
}

/** Sets a cell: `text`, or "–" with `reason` as its title and for screen readers. */
function cell(table, key, text, { reason = null, title = null, small = null, data = {} } = {}) {
  const td = table.querySelector(`[data-media="${CSS.escape(key)}"]`);
  if (!td) return;
  const kids = reason ? ["–", el("span", { class: "sr-only" }, " (" + reason + ")")]
    : [text, small ? el("br") : null, small ? el("small", {}, small) : null];
  td.replaceChildren(...kids.filter(Boolean));
  if (reason || title) td.title = reason || title; else td.removeAttribute("title");
  if (reason) td.dataset.reason = reason; else delete td.dataset.reason;
  for (const [k, v] of Object.entries(data)) td.dataset[k] = v;
}

/** A period's cost as a cell: gross, net in a small line; "–" with why when unknown. */
function costCell(table, key, p, currency, why) {
  if (!p) { cell(table, key, "", { reason: why }); return; }
  if (p.gross_cents === null || p.gross_cents === undefined) { cell(table, key, "", { reason: t("media.noAmount") }); return; }
  const net = t("media.net", money(eur(p.net_cents), currency));
  cell(table, key, money(eur(p.gross_cents), currency) + (p.complete ? "" : " *"),
    { title: net + (p.complete ? "" : " · " + t("incomplete")), small: net, data: { grossCents: String(p.gross_cents) } });
}

/** Why a medium's cost is unknown: no tariff of it (404), else the API's reason. */
const costReason = (m, r) => r.status === 404 ? t("media.noTariff", t("medium." + m)) : r.reason;

/** Fills a [`mediaTable`] of the site at `base` (`/api/v1/sites/{id}`). */
export async function fillMedia(table, base, media, last) {
  const year = new Date().getFullYear();
  const report = last === "co2" ? attempt(`${base}/report?year=${year}`) : null;
  await Promise.all(media.map(async m => {
    const q = query(m);
    const [energy, cost, fc] = await Promise.all([attempt(`${base}/energy?period=month&count=1${q}`),
      attempt(`${base}/cost?period=month&count=2&medium=${enc(m)}`),
      last === "forecast" ? attempt(`${base}/forecast${m === "electricity" ? "" : "?medium=" + enc(m)}`) : null]);
    const e = energy.data;
    const amountCell = (key, p) => !e ? cell(table, key, "", { reason: energy.reason })
      : value(p, m) === null ? cell(table, key, "", { reason: m === "gas" && p.m3 !== null ? t("media.noConversion") : t("media.noAmount") })
      : cell(table, key, amount(p, m) + (p.complete ? "" : " *"), { title: p.complete ? null : t("incomplete") });
    amountCell(m + ":month", e?.total);
    amountCell(m + ":last-month", e?.previous_total);
    const c = cost.data, why = c ? null : costReason(m, cost);
    costCell(table, m + ":cost", c?.periods[1], c?.currency, why);
    costCell(table, m + ":last-cost", c?.periods[0], c?.currency, why);
    if (last === "forecast") {
      // The year's cost from the forecast of this medium (an answer for another medium does not count).
      const f = fc.data, y = f && (f.medium ?? "electricity") === m ? f.year : null;
      if (y && y.gross_cents !== null && y.gross_cents !== undefined) {
        cell(table, m + ":forecast", money(eur(y.gross_cents), f.currency), { small: t("cost.band", money(eur(y.low_gross_cents), f.currency),
          money(eur(y.high_gross_cents), f.currency)), data: { grossCents: String(y.gross_cents) } });
      } else cell(table, m + ":forecast", "", { reason: !c ? why : t("media.noForecast"), data: { note: fc.reason || (f?.missing || []).join("; ") } });
    }
  }));
  if (report) {
    const r = await report;
    const b = r.data?.buildings?.[0];
    for (const m of media) {
      const x = b?.media?.find(y => y.medium === m);
      if (!x) cell(table, m + ":co2", "", { reason: r.data ? t("media.noAmount") : r.reason });
      else if (x.co2_kg === null || x.co2_kg === undefined) {
        cell(table, m + ":co2", "", { reason: x.co2_g_per_unit === null || x.co2_g_per_unit === undefined ? t("media.noFactor", t("medium." + m))
          : m === "gas" && x.value !== null ? t("media.noConversion") : t("media.noAmount"), data: { note: x.co2_note || "" } });
      } else {
        // The running year is never `complete` (its rest is unknown): no mark, the column says "so far".
        const per = num(x.co2_g_per_unit, 0) + " g/" + (m === "water" ? "m³" : "kWh") + " · " + x.co2_source;
        cell(table, m + ":co2", co2(x.co2_kg), { title: per, small: per, data: { co2Kg: String(x.co2_kg) } });
      }
    }
  }
  table.dataset.loaded = "1";
}

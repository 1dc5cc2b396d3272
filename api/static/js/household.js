// The resident's year: the projected bill against the advance payments (Abschlag, from
// `/sites/{id}/household`) with the forecast's band, and how detailed the values are: a polled meter's
// configured interval, else the spacing measured from the last half hour of readings; a meter reading in
// whole kWh without live power is an SML meter without its PIN.

import { el, api, enc, state, patch } from "./util.js";
import { t, money, num } from "./i18n.js";

/** The bill section, filled by [`settlement`]. */
export function billSection() {
  return el("section", { class: "bill", "data-bill": "" }, el("h3", {}, t("bill.title")),
    el("p", { "data-bill-advance": "" }, "…"), el("p", {}, el("b", { "data-bill-result": "" }, "")),
    el("p", { class: "hint", "data-bill-band": "" }, ""));
}

const eur = c => c === null || c === undefined ? null : c / 100;

/**
 * The year's bill from the forecast (`fc.year`, gross, Grundpreis included) set against the advance payments
 * of `info`: a positive difference is paid extra, a negative one comes back; the band from the forecast's.
 */
export function settlement(box, fc, info) {
  const a = info?.advance, y = fc?.year, cur = fc?.currency || info?.currency;
  patch("[data-bill-advance]", !a ? t("bill.noAdvance")
    : t("bill.advance", info.year, a.months, money(a.gross_per_month, cur), money(a.year_gross, cur)), box);
  if (!a || !y) {
    patch("[data-bill-result]", a ? t("bill.noForecast") : "", box);
    patch("[data-bill-band]", "", box);
    box.dataset.bill = a ? "no-forecast" : "no-advance";
    return;
  }
  const diff = eur(y.gross_cents) - a.year_gross;
  const side = v => Math.abs(v) < 0.5 ? t("bill.even") : v < 0 ? t("bill.backShort", money(-v, cur)) : t("bill.extraShort", money(v, cur));
  patch("[data-bill-result]", Math.abs(diff) < 0.5 ? t("bill.even")
    : diff < 0 ? t("bill.back", money(-diff, cur)) : t("bill.extra", money(diff, cur)), box);
  patch("[data-bill-band]", t("bill.band", side(eur(y.low_gross_cents) - a.year_gross), side(eur(y.high_gross_cents) - a.year_gross)), box);
  box.dataset.bill = diff < 0 ? "back" : "extra";
  box.dataset.billDiff = diff.toFixed(2);
}

/** The resolution section, filled by [`resolution`]. */
export function resolutionSection() {
  return el("section", { class: "resolution", "data-resolution": "" }, el("h3", {}, t("res.title")), el("ul", {}));
}

/** Seconds as "15 min", "10 s", "1 h". */
function span(s) {
  if (s < 90) return num(Math.round(s), 0) + " s";
  if (s < 5400) return num(Math.round(s / 60), 0) + " min";
  return num(Math.round(s / 3600), 0) + " h";
}

function median(xs) {
  const v = [...xs].sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)] : null;
}

/** The readings of `quantity` in the last half hour, one per second at most. */
async function recent(device, quantity) {
  const to = Date.now(), from = to - 30 * 6e4;
  const q = `quantity=${quantity}&window=1s&agg=last&from=${enc(new Date(from).toISOString())}&to=${enc(new Date(to).toISOString())}`;
  return (await api(`/api/v1/devices/${enc(device)}/history?${q}`).catch(() => ({ points: [] }))).points;
}

/** One line per metering device of `site`: how often it is read and whether it gives live power. */
export async function resolution(box, site) {
  const info = await api(`/api/v1/sites/${enc(site.id)}/household`).catch(() => null);
  const configured = new Map((info?.devices || []).map(d => [d.device, d.interval_s]));
  const ul = box.querySelector("ul");
  const lines = await Promise.all(site.devices.filter(d => d.class !== "soil_sensor").map(async d => {
    const name = d.name || d.id, live = state.live.get(d.id)?.values || {};
    const energy = await recent(d.id, "energy_import");
    const points = energy.length >= 2 ? energy : await recent(d.id, "active_power");
    // The cadence now: the gaps between the last eleven readings, not the whole half hour's.
    const last = points.slice(-11);
    const gaps = last.slice(1).map((p, i) => (Date.parse(p.ts) - Date.parse(last[i].ts)) / 1000);
    const every = configured.get(d.id);
    const seen = median(gaps);
    const text = every ? t("res.every", name, span(every)) : seen ? t("res.observed", name, span(seen)) : t("res.unknown", name);
    // Whole kWh and no live power: an SML meter read without its PIN.
    const whole = energy.length >= 2 && live.active_power === undefined && energy.every(p => Math.abs(p.value / 1000 - Math.round(p.value / 1000)) < 1e-6);
    return el("li", { "data-resolution-of": d.id, "data-interval-s": String(every ?? (seen === null ? "" : Math.round(seen))) }, text,
      whole ? el("br") : null, whole ? t("res.wholeKwh", name) : live.active_power === undefined && points.length ? " · " + t("res.noPower") : null);
  }));
  ul.replaceChildren(...lines);
}

// Media (electricity, heat, gas, water): which a site has meters for, the picker, and how an energy report's
// period is shown in the medium's unit. Electricity and heat are kWh; water is m³; gas is m³ and, where the
// site has a gas conversion (Brennwert × Zustandszahl), also kWh. The energy reports say which (`unit`).

import { el, enc } from "./util.js";
import { t, kwh, num } from "./i18n.js";

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

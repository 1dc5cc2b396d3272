// Residents (mobile first): live power in large numbers, today by hour, this month by day, this month against
// last month and the same month last year with cost and a projection (as numbers and as bars on one screen),
// the year's projected bill against the advance payments (Abschlag) with the forecast's band, how detailed
// the values are (a reading every 15 min, whole kWh without the meter's PIN), and what each sub-metered
// device uses, largest first with its share; a gas, heat or water meter's month, cost and projected year next
// to electricity (media.js). Only the households the token sees exist here at all.

import { el, state, api, enc, sitePower, siteHistory, midnight, patch } from "./util.js";
import { t, watts, kwh, money, num, pct, date, time } from "./i18n.js";
import { figure, altTable, bars } from "./charts.js";
import { alertList } from "./facility.js";
import { billSection, settlement, resolutionSection, resolution } from "./household.js";
import { siteMedia, mediaTable, fillMedia } from "./media.js";

export async function home(main, p) {
  const homes = state.sites.filter(s => s.kind === "household");
  const site = homes.find(s => s.id === p.get("site")) || homes[0];
  if (!site) { main.replaceChildren(el("p", { class: "none" }, t("none"))); return {}; }
  const base = `/api/v1/sites/${enc(site.id)}`;
  const pick = homes.length > 1 ? el("p", {}, el("label", { for: "household" }, t("household_pick") + " "),
    el("select", { id: "household", onchange: e => { location.hash = `view=home&site=${enc(e.target.value)}`; } },
      homes.map(h => el("option", { value: h.id, selected: h.id === site.id }, h.name || h.id)))) : null;
  const now = el("b", { class: "big", "data-site-power": site.id, "aria-live": "polite", "aria-atomic": "true" }, watts(sitePower(site)));
  const kpi = (key, label) => el("div", { class: "kpi" }, el("span", {}, label), el("b", { "data-kpi": key }, "…"), el("small", { "data-kpi-cost": key }, ""));
  const compare = el("div", { class: "kpis" }, kpi("month", t("month") + " (" + t("soFar") + ")"), kpi("projection", t("home.projection")),
    kpi("last-month", t("lastMonth")), kpi("last-year", t("lastYear")), kpi("year-bill", t("home.yearBill")));
  const hourBox = el("div", { class: "plot" }), dayBox = el("div", { class: "plot" });
  const hourFig = figure("today-hours", t("home.today") + " (kWh) · " + t("home.hourNote"), hourBox);
  const dayFig = figure("month-days", t("home.month") + " (kWh)", dayBox);
  // Devices ranked by this month's energy once it is known (the live power stays patched in place).
  const devices = el("ol", { class: "devices", "data-top": site.id }, site.devices.map(d => el("li", { "data-device": d.id, "data-consumer": d.id },
    el("span", { class: "name" }, d.name || d.id), " ", el("b", { "data-live": d.id + ":active_power" }, watts(state.live.get(d.id)?.values?.active_power?.value)),
    " · ", el("span", { "data-device-month": d.id }, "…"),
    el("span", { class: "share-bar", "aria-hidden": "true" }, el("span", { "data-device-bar": d.id })))));
  const cmpBox = el("div", { class: "plot" });
  const cmpFig = figure("month-compare", t("home.compareChart") + " (kWh)", cmpBox);
  const alertBox = el("div", { class: "alert-list" });
  const bill = billSection(), detail = resolutionSection();
  // A household with a gas, heat or water meter: each medium's month, cost and projected year next to electricity.
  const media = siteMedia(site).filter(m => m !== "electricity"), mediaBox = media.length ? mediaTable(media, "forecast") : null;
  main.replaceChildren(el("div", { class: "home" },
    el("h2", {}, site.name || site.id), pick,
    el("section", { class: "now", "aria-labelledby": "now-h" }, el("h3", { id: "now-h" }, t("home.now")), now),
    el("section", {}, el("h3", {}, t("home.compare")), compare, cmpFig), bill,
    mediaBox && el("section", { "aria-labelledby": "media-h" }, el("h3", { id: "media-h" }, t("home.media")),
      el("p", { class: "hint" }, t("media.captionHome")), mediaBox),
    el("section", {}, el("h3", {}, t("home.devices")), el("p", { class: "hint" }, t("home.devicesNote")), devices),
    hourFig, dayFig, detail,
    el("section", {}, el("h3", {}, t("alerts.title")), alertBox)));
  const hourBars = bars(hourBox, "kWh"), dayBars = bars(dayBox, "kWh", 1), cmpBars = bars(cmpBox, "kWh", 1);

  const load = async () => {
    const today = midnight(), first = new Date(today.getFullYear(), today.getMonth(), 1);
    const days = Math.round((today - first) / 864e5) + 1;
    const [hours, month, year, perDay, top, fc, info] = await Promise.all([
      siteHistory(site, today.getTime(), Date.now(), 3600),
      api(`${base}/energy?period=month&count=1`), api(`${base}/energy?period=month&count=1&compare=previous_year`),
      api(`${base}/energy?period=day&count=${days}`), api(`${base}/top?period=month&count=1`).catch(() => null),
      api(`${base}/forecast`).catch(() => null), api(`${base}/household`).catch(() => null)]);
    settlement(bill, fc, info);
    // Mean power over an hour in W is that hour's energy in Wh.
    const hl = hours.map(([ms]) => time(ms)), hv = hours.map(([, w]) => w / 1000);
    hourBars.set(hl, hv);
    altTable(hourFig, [t("hour"), "kWh"], hl.map((l, i) => [l, num(hv[i], 2)]));
    const dl = perDay.periods.map(p => date(p.start, { day: "numeric" })), dv = perDay.periods.map(p => p.wh === null ? null : p.wh / 1000);
    dayBars.set(dl, dv);
    altTable(dayFig, [t("day"), "kWh"], perDay.periods.map(p => [date(p.start), kwh(p.wh)]));
    const cur = month.currency, show = (key, p) => {
      patch(`[data-kpi="${key}"]`, kwh(p.wh), compare);
      patch(`[data-kpi-cost="${key}"]`, p.cost === null ? "" : money(p.cost, cur), compare);
    };
    show("month", month.total);
    show("last-month", month.previous_total);
    show("last-year", year.previous_total);
    const end = new Date(today.getFullYear(), today.getMonth() + 1, 1), f = (Date.now() - first) / (end - first);
    const proj = month.total.wh === null ? { wh: null, cost: null } : { wh: month.total.wh / Math.max(f, 0.01), cost: month.total.cost === null ? null : month.total.cost / Math.max(f, 0.01) };
    show("projection", proj);
    // The year's bill with the tariff (fixed charges included), from the API's forecast with its band.
    const eur = c => c === null || c === undefined ? null : c / 100, y = fc?.year;
    patch('[data-kpi="year-bill"]', y ? money(eur(y.gross_cents), fc.currency) : "–", compare);
    patch('[data-kpi-cost="year-bill"]', y ? kwh(y.wh) + " · " + t("cost.band", money(eur(y.low_gross_cents), fc.currency), money(eur(y.high_gross_cents), fc.currency)) : "", compare);
    // The month on one chart: the same month last year, last month, this month so far and its projection.
    // Short labels under the bars (a phone is narrow), the full ones in the table.
    const cmp = [[t("lastYear"), t("home.cmp.year"), year.previous_total.wh], [t("lastMonth"), t("home.cmp.month"), month.previous_total.wh],
      [t("month") + " (" + t("soFar") + ")", t("home.cmp.now"), month.total.wh], [t("home.projection"), t("home.cmp.projection"), proj.wh]];
    cmpBars.set(cmp.map(([, l]) => l), cmp.map(([, , wh]) => wh === null ? null : wh / 1000));
    altTable(cmpFig, [t("range"), "kWh"], cmp.map(([l, , wh]) => [l, kwh(wh)]));
    if (!top) for (const d of site.devices) patch(`[data-device-month="${CSS.escape(d.id)}"]`, t("month") + ": –", devices);
    else {
      // Largest first; a device without a known month keeps its place after the known ones.
      const rank = new Map(top.consumers.map((c, i) => [c.device, i]));
      const items = [...devices.children].sort((a, b) => (rank.get(a.dataset.device) ?? 1e9) - (rank.get(b.dataset.device) ?? 1e9));
      if (items.some((li, i) => devices.children[i] !== li)) devices.append(...items);
      const max = Math.max(0, ...top.consumers.map(c => c.wh ?? 0));
      for (const c of top.consumers) {
        const share = c.share === null ? "" : " · " + t("share") + " " + pct(c.share).replace("+", "");
        patch(`[data-device-month="${CSS.escape(c.device)}"]`, t("month") + ": " + kwh(c.wh) + share, devices);
        const bar = devices.querySelector(`[data-device-bar="${CSS.escape(c.device)}"]`);
        if (bar) bar.style.width = c.wh === null || max <= 0 ? "0" : (100 * c.wh / max).toFixed(1) + "%";
      }
      // Main meters are the household's total, not a consumer of it.
      for (const d of site.devices) if (!rank.has(d.id)) patch(`[data-device-month="${CSS.escape(d.id)}"]`, t("home.mainMeter"), devices);
    }
  };
  await alertList(alertBox, a => a.site === site.id);
  // A failed load leaves "…" in place and its reason on the page (the browser tests print it).
  await load().catch(e => { main.dataset.error = String(e); });
  await resolution(detail, site).catch(e => { main.dataset.error = String(e); });
  if (mediaBox) await fillMedia(mediaBox, base, media, "forecast").catch(e => { mediaBox.dataset.mediaError = String(e); });
  let last = 0;
  return {
    onLive(device) {
      // The big number is a live region: at most one update every 2 s, so a screen reader can keep up.
      if (!site.devices.some(d => d.id === device) || Date.now() - last < 2000) return;
      last = Date.now();
      patch(`[data-site-power="${CSS.escape(site.id)}"]`, watts(sitePower(site)));
    },
    refresh: () => load().catch(() => {}),
  };
}

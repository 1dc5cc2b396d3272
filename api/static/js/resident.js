// Residents (mobile first): live power in large numbers, today by hour, this month by day, this month against
// last month and the same month last year with cost and a projection, and what each device uses. Only the
// households the token sees exist here at all.

import { el, state, api, enc, sitePower, siteHistory, midnight, patch } from "./util.js";
import { t, watts, kwh, money, num, date, time } from "./i18n.js";
import { figure, altTable, bars } from "./charts.js";
import { alertList } from "./facility.js";

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
    kpi("last-month", t("lastMonth")), kpi("last-year", t("lastYear")));
  const hourBox = el("div", { class: "plot" }), dayBox = el("div", { class: "plot" });
  const hourFig = figure("today-hours", t("home.today") + " (kWh) · " + t("home.hourNote"), hourBox);
  const dayFig = figure("month-days", t("home.month") + " (kWh)", dayBox);
  const devices = el("ul", { class: "devices" }, site.devices.map(d => el("li", { "data-device": d.id },
    el("span", { class: "name" }, d.name || d.id), " ", el("b", { "data-live": d.id + ":active_power" }, watts(state.live.get(d.id)?.values?.active_power?.value)),
    " · ", el("span", { "data-device-month": d.id }, "…"))));
  const alertBox = el("div", { class: "alert-list" });
  main.replaceChildren(el("div", { class: "home" },
    el("h2", {}, site.name || site.id), pick,
    el("section", { class: "now", "aria-labelledby": "now-h" }, el("h3", { id: "now-h" }, t("home.now")), now),
    el("section", {}, el("h3", {}, t("home.compare")), compare),
    hourFig, dayFig,
    el("section", {}, el("h3", {}, t("home.devices")), devices),
    el("section", {}, el("h3", {}, t("alerts.title")), alertBox)));
  const hourBars = bars(hourBox, "kWh"), dayBars = bars(dayBox, "kWh", 1);

  const load = async () => {
    const today = midnight(), first = new Date(today.getFullYear(), today.getMonth(), 1);
    const days = Math.round((today - first) / 864e5) + 1;
    const [hours, month, year, perDay, top] = await Promise.all([
      siteHistory(site, today.getTime(), Date.now(), 3600),
      api(`${base}/energy?period=month&count=1`), api(`${base}/energy?period=month&count=1&compare=previous_year`),
      api(`${base}/energy?period=day&count=${days}`), api(`${base}/top?period=month&count=1`).catch(() => null)]);
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
    if (top) for (const c of top.consumers) patch(`[data-device-month="${CSS.escape(c.device)}"]`, t("month") + ": " + kwh(c.wh), devices);
  };
  await alertList(alertBox, a => a.site === site.id);
  await load().catch(() => {});
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

// Local businesses (mobile first, issue 24): for each of the business's own sites the live power, today by
// hour, this month by day, this month against last month and the same month last year, the cost of each
// month against the year's budget, the forecast (from the G25 standard profile while the site has little
// history), the peak and its demand charge where the tariff has one, and the CSV export for the accountant.
// Only the business sites the token sees exist here at all.

import { el, state, api, enc, sitePower, siteHistory, midnight, patch } from "./util.js";
import { t, watts, kwh, money, num, date, time, monthName } from "./i18n.js";
import { figure, altTable, bars } from "./charts.js";
import { alertList } from "./facility.js";
import { peakPanel } from "./peak.js";

const eur = c => (c === null || c === undefined ? null : c / 100);
const ym = d => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}`;
const daysIn = (y, m) => new Date(y, m + 1, 0).getDate();

/** The export form: months from/to, the dialect, and a button that downloads the CSV with the token. */
function exportForm(site) {
  const now = new Date(), status = el("p", { id: "export-status", role: "status" }, "");
  const from = el("input", { id: "export-from", type: "month", value: `${now.getFullYear()}-01`, max: ym(now) });
  const to = el("input", { id: "export-to", type: "month", value: ym(now), max: ym(now) });
  const dialect = el("select", { id: "export-dialect" },
    el("option", { value: "sep=semicolon&decimal=comma" }, t("biz.excelDe")),
    el("option", { value: "sep=comma" }, t("biz.rfc")));
  const run = async ev => {
    ev.preventDefault();
    status.textContent = t("loading");
    const q = `from=${enc(from.value)}&to=${enc(to.value)}&${dialect.value}`;
    try {
      const r = await fetch(`/api/v1/sites/${enc(site.id)}/export.csv?${q}`, { headers: { Authorization: "Bearer " + state.token } });
      if (!r.ok) {
        const p = await r.json().catch(() => ({}));
        status.textContent = t("biz.exportFailed", p.detail || r.status);
        return;
      }
      // A blob keeps the byte-order mark Excel needs (text() would drop it).
      const blob = await r.blob();
      const name = (r.headers.get("content-disposition") || "").match(/filename="([^"]+)"/)?.[1] || `${site.id}.csv`;
      const a = el("a", { href: URL.createObjectURL(blob), download: name });
      document.body.append(a);
      a.click();
      a.remove();
      const text = await blob.text();
      const lines = text.split("\r\n").filter(Boolean);
      // Blob.text() drops a BOM: its bytes are read as they are. Every await is done before the status
      // changes, so the status never says "downloaded" without its header and BOM check.
      const head = new Uint8Array(await blob.slice(0, 3).arrayBuffer());
      status.dataset.bom = String(head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf);
      status.dataset.header = lines[0].replace(/^\uFEFF/, "");
      status.textContent = t("biz.exported", name, lines.length - 1);
    } catch (e) {
      status.textContent = t("biz.exportFailed", String(e));
    }
  };
  return el("form", { class: "export", onsubmit: run },
    el("p", { class: "hint" }, t("biz.exportNote")),
    el("label", { for: "export-from" }, t("from") + " "), from, " ",
    el("label", { for: "export-to" }, t("to") + " "), to, " ",
    el("label", { for: "export-dialect" }, t("biz.format") + " "), dialect, " ",
    el("button", { type: "submit", id: "export-csv" }, t("biz.export")), status);
}

export async function shop(main, p) {
  const mine = state.sites.filter(s => s.kind === "business");
  const site = mine.find(s => s.id === p.get("site")) || mine[0];
  if (!site) { main.replaceChildren(el("p", { class: "none" }, t("none"))); return {}; }
  const base = `/api/v1/sites/${enc(site.id)}`;
  // Every own site is one tap away (a business may have several).
  const pick = el("nav", { class: "sites", "aria-label": t("biz.sites") }, mine.map(s =>
    el("a", { href: `#view=business&site=${enc(s.id)}`, "data-business-site": s.id, "aria-current": s.id === site.id ? "page" : null }, s.name || s.id)));
  const now = el("b", { class: "big", "data-site-power": site.id, "aria-live": "polite", "aria-atomic": "true" }, watts(sitePower(site)));
  const kpi = (key, label) => el("div", { class: "kpi" }, el("span", {}, label), el("b", { "data-kpi": key }, "…"), el("small", { "data-kpi-cost": key }, ""));
  const compare = el("div", { class: "kpis" }, kpi("month", t("month") + " (" + t("soFar") + ")"), kpi("last-month", t("lastMonth")),
    kpi("last-year", t("lastYear")), kpi("month-end", t("cost.monthEnd")), kpi("year-end", t("cost.yearEnd")));
  const method = el("p", { class: "hint", "data-forecast-method": "" }, "");
  const hourBox = el("div", { class: "plot" }), dayBox = el("div", { class: "plot" }), costBox = el("div", { class: "plot" });
  const hourFig = figure("today-hours", t("home.today") + " (kWh)", hourBox);
  const dayFig = figure("month-days", t("home.month") + " (kWh)", dayBox);
  const costFig = figure("cost-months", t("biz.costMonths"), costBox);
  const budget = el("p", { "data-budget": "" }, "…");
  const peak = el("section", { class: "peak", "data-peak-panel": "", hidden: true });
  const alertBox = el("div", { class: "alert-list" });
  main.replaceChildren(el("div", { class: "home business" },
    el("h2", {}, site.name || site.id), mine.length > 1 ? pick : null,
    el("section", { class: "now", "aria-labelledby": "now-h" }, el("h3", { id: "now-h" }, t("power")), now),
    el("section", {}, el("h3", {}, t("home.compare")), compare, method),
    el("section", {}, el("h3", {}, t("biz.costMonths")), budget, costFig),
    peak, hourFig, dayFig,
    el("section", {}, el("h3", {}, t("biz.export")), exportForm(site)),
    el("section", {}, el("h3", {}, t("alerts.title")), alertBox)));
  const hourBars = bars(hourBox, "kWh"), dayBars = bars(dayBox, "kWh", 1), costBars = bars(costBox, "€", 0);

  const load = async () => {
    const today = midnight(), days = today.getDate();
    const [hours, month, year, perDay, cost, fc] = await Promise.all([
      siteHistory(site, today.getTime(), Date.now(), 3600),
      api(`${base}/energy?period=month&count=1`), api(`${base}/energy?period=month&count=1&compare=previous_year`),
      api(`${base}/energy?period=day&count=${days}`), api(`${base}/cost?period=month&count=12`).catch(() => null),
      api(`${base}/forecast`).catch(() => null)]);
    const hl = hours.map(([ms]) => time(ms)), hv = hours.map(([, w]) => w / 1000);
    hourBars.set(hl, hv);
    altTable(hourFig, [t("hour"), "kWh"], hl.map((l, i) => [l, num(hv[i], 2)]));
    const dl = perDay.periods.map(q => date(q.start, { day: "numeric" })), dv = perDay.periods.map(q => q.wh === null ? null : q.wh / 1000);
    dayBars.set(dl, dv);
    altTable(dayFig, [t("day"), "kWh"], perDay.periods.map(q => [date(q.start), kwh(q.wh)]));
    const show = (key, q) => {
      patch(`[data-kpi="${key}"]`, kwh(q.wh), compare);
      patch(`[data-kpi-cost="${key}"]`, q.cost === null || q.cost === undefined ? "" : money(q.cost, month.currency), compare);
    };
    show("month", month.total);
    show("last-month", month.previous_total);
    show("last-year", year.previous_total);
    for (const [key, h] of [["month-end", fc?.month], ["year-end", fc?.year]]) {
      show(key, h ? { wh: h.wh, cost: eur(h.gross_cents) } : { wh: null, cost: null });
    }
    const m = fc?.method;
    method.textContent = !m ? "" : m.kind === "standard_profile" || m.profile
      ? t("biz.slp", String(m.profile || "").toUpperCase()) : t("biz.learned", m.days ?? "–");
    if (m?.profile) method.dataset.forecastMethod = m.profile;
    // Cost per month against the year's budget, shared by days (months of other years have none here).
    const b = fc?.budget, cur = cost?.currency || fc?.currency;
    const share = start => {
      const d = new Date(start + "T00:00:00");
      if (!b || b.gross === null || b.gross === undefined || d.getFullYear() !== b.year) return null;
      const yd = (new Date(b.year + 1, 0, 1) - new Date(b.year, 0, 1)) / 864e5;
      return b.gross * daysIn(d.getFullYear(), d.getMonth()) / yd;
    };
    const rows = (cost?.periods || []).map(q => ({ start: q.start, gross: eur(q.gross_cents), budget: share(q.start), complete: q.complete, ongoing: q.ongoing }));
    costBars.set(rows.map(r => monthName(r.start + "T00:00:00")), rows.map(r => r.gross));
    altTable(costFig, [t("biz.monthCol"), t("biz.gross"), t("cost.budget"), t("change")], rows.map(r => [
      monthName(r.start + "T00:00:00") + (r.ongoing ? " (" + t("soFar") + ")" : "") + (r.complete ? "" : " · " + t("incomplete")),
      money(r.gross, cur), r.budget === null ? "–" : money(r.budget, cur),
      r.gross === null || r.budget === null ? "–" : money(r.gross - r.budget, cur)]));
    budget.textContent = !b || b.gross === null || b.gross === undefined ? t("cost.noBudget")
      : t("biz.budgetYear", money(b.gross, cur), b.year, fc?.year ? money(eur(fc.year.gross_cents), cur) : "–");
    budget.dataset.budget = b?.gross ?? "";
    await peakPanel(peak, base);
  };
  await alertList(alertBox, a => a.site === site.id);
  await load().catch(e => { document.body.dataset.loadError = String(e); });
  let last = 0;
  return {
    onLive(device) {
      if (!site.devices.some(d => d.id === device) || Date.now() - last < 2000) return;
      last = Date.now();
      patch(`[data-site-power="${CSS.escape(site.id)}"]`, watts(sitePower(site)));
    },
    refresh: () => load().catch(() => {}),
  };
}

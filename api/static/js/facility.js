// Facility managers: one building and the alerts (the town overview is in overview.js).

import { el, state, api, enc, sitePower, siteHistory, midnight, patch, announce } from "./util.js";
import { t, watts, kwh, money, pct, num, date, dateTime, time, monthName } from "./i18n.js";
import { figure, altTable, timeLine, compareBars, carpet, sampleRows } from "./charts.js";
import { peakPanel } from "./peak.js";
import { siteMedia, chosen, picker, amount, value, query, unit, mediaTable, fillMedia } from "./media.js";

const buildings = () => state.sites.filter(s => s.kind === "building");
const badge = x => { const h = x.health?.state || "unknown"; return el("span", { class: "health " + h, "data-health": h, "data-health-of": x.id }, t("health." + h)); };

const energyText = (p, m = "electricity") => value(p, m) === null ? "–" : amount(p, m) + (p.complete ? "" : " *");

// ---------------------------------------------------------------------------------------------- building

function rangeWindow(from, to) {
  const nice = [60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86400];
  const want = (to - from) / 1000 / 1200;
  return nice.find(w => w >= want) || 86400;
}

export async function building(main, p) {
  const site = state.sites.find(s => s.id === p.get("site") && s.kind === "building") || buildings()[0];
  if (!site) { main.replaceChildren(el("p", { class: "none" }, t("none"))); return {}; }
  const base = `/api/v1/sites/${enc(site.id)}`;
  const media = siteMedia(site), medium = chosen(p, media), elec = medium === "electricity";
  const header = el("div", { class: "kpis", "data-kpi-medium": medium },
    el("div", { class: "kpi" }, el("span", {}, t("power")), el("b", { "data-site-power": site.id }, watts(sitePower(site)))),
    el("div", { class: "kpi" }, el("span", {}, t("today")), el("b", { "data-kpi": "today" }, "…")),
    el("div", { class: "kpi" }, el("span", {}, t("month")), el("b", { "data-kpi": "month" }, "…")),
    el("div", { class: "kpi" }, el("span", {}, t("yesterday")), el("b", { "data-kpi": "yesterday" }, "…")),
    el("div", { class: "kpi" }, el("span", {}, t("lastWeek")), el("b", { "data-kpi": "last-week" }, "…")),
    el("div", { class: "kpi" }, el("span", {}, t("lastMonth")), el("b", { "data-kpi": "last-month" }, "…")),
    el("div", { class: "kpi" }, el("span", {}, t("lastYear")), el("b", { "data-kpi": "last-year" }, "…")),
    // Today so far against the learned normal of the same hours (electricity, the forecast's model).
    el("div", { class: "kpi" }, el("span", { "data-normal-label": "" }, t("normal.title")), el("b", { "data-kpi": "normal" }, "…"),
      el("small", { "data-normal-detail": "" }, "")));

  // Load profile with range, zoom and pan.
  let from = Date.now() - 864e5, to = Date.now();
  const rangeSel = el("select", { id: "range" }, ["1d", "7d", "30d", "custom"].map(r => el("option", { value: r }, t("range." + r))));
  const fromIn = el("input", { id: "from", type: "datetime-local" }), toIn = el("input", { id: "to", type: "datetime-local" });
  const local = ms => new Date(ms - new Date(ms).getTimezoneOffset() * 6e4).toISOString().slice(0, 16);
  const chartBox = el("div", { class: "plot", tabindex: "0", role: "img", "aria-label": t("loadProfile") + ". " + t("zoom.hint") });
  const lpFig = figure("load-profile", t("loadProfile") + " · " + (site.name || site.id), chartBox);
  let line;
  const loadProfile = async () => {
    fromIn.value = local(from); toIn.value = local(to);
    const points = await siteHistory(site, from, to, rangeWindow(from, to));
    line.set(points, from, to);
    lpFig.dataset.points = points.length;
    altTable(lpFig, [t("time"), t("power")], sampleRows(points, 48, watts));
  };
  const pan = dir => { const span = to - from; from += dir * span / 2; to += dir * span / 2; loadProfile(); };
  const controls = el("div", { class: "controls" },
    el("label", { for: "range" }, t("range")), rangeSel,
    el("label", { for: "from" }, t("from")), fromIn, el("label", { for: "to" }, t("to")), toIn,
    el("button", { type: "button", onclick: () => { from = new Date(fromIn.value).getTime(); to = new Date(toIn.value).getTime(); if (to > from) loadProfile(); } }, t("show")),
    el("button", { type: "button", onclick: () => pan(-1) }, "← " + t("panLeft")),
    el("button", { type: "button", onclick: () => pan(1) }, t("panRight") + " →"),
    el("button", { type: "button", onclick: () => { rangeSel.dispatchEvent(new Event("change")); } }, t("reset")));
  rangeSel.addEventListener("change", () => {
    const days = { "1d": 1, "7d": 7, "30d": 30 }[rangeSel.value];
    if (!days) { fromIn.focus(); return; }
    to = Date.now(); from = to - days * 864e5; loadProfile();
  });
  chartBox.addEventListener("keydown", e => { if (e.key === "ArrowLeft") pan(-1); if (e.key === "ArrowRight") pan(1); });
  chartBox.addEventListener("dblclick", () => rangeSel.dispatchEvent(new Event("change")));

  const dayBox = el("div", { class: "plot" }), monthBox = el("div", { class: "plot" });
  const mLabel = " · " + t("medium." + medium) + " (" + unit(medium) + ")";
  const dayFig = figure("daily", t("daily") + mLabel, dayBox), monthFig = figure("monthly", t("monthly") + mLabel, monthBox);
  const canvas = el("canvas", { width: 900, height: 300, role: "img", "aria-label": t("carpet") });
  const carpetLegend = el("div", { class: "legend" }), carpetSummary = el("p", { class: "summary", "data-carpet-summary": "" });
  const carpetFig = figure("carpet", t("carpet"), el("div", { class: "carpet" }, canvas, carpetLegend, carpetSummary));
  const meters = el("table", { class: "meters" }, el("caption", {}, t("meters")),
    el("thead", {}, el("tr", {}, [t("site"), t("health"), t("power"), "kWh"].map(h => el("th", { scope: "col" }, h)))),
    el("tbody", {}, site.devices.map(d => el("tr", { "data-device": d.id }, el("th", { scope: "row" }, d.name || d.id), el("td", {}, badge(d)),
      el("td", { class: "num", "data-live": d.id + ":active_power" }, watts(state.live.get(d.id)?.values?.active_power?.value)),
      el("td", { class: "num", "data-live": d.id + ":energy_import" }, ((v) => v === undefined ? "–" : num(v / 1000, 1))(state.live.get(d.id)?.values?.energy_import?.value))))));
  const top = el("ol", { class: "top", "data-top": site.id });
  const alertBox = el("div", { class: "alert-list" });
  // The peak watch: only for a building whose tariff has a demand charge.
  const peak = el("section", { class: "peak", "data-peak-panel": "", hidden: true });
  const costBox = el("dl", { class: "cost", "data-cost": site.id },
    el("dt", {}, t("cost.month")), el("dd", { "data-cost-month": "" }, "…"),
    el("dt", {}, t("cost.tariff")), el("dd", { "data-cost-tariff": "" }, "…"),
    el("dt", {}, t("cost.monthEnd")), el("dd", { "data-forecast-month": "" }, "…"),
    el("dt", {}, t("cost.yearEnd")), el("dd", { "data-forecast-year": "" }, "…"),
    el("dt", {}, t("cost.budget")), el("dd", { "data-budget": "" }, "…"),
    el("dt", {}, t("backtest.title")), el("dd", { "data-backtest": "" }, "…"));
  // Every medium of the building: this month and last in its unit, the cost, the year's CO₂ so far.
  const mediaBox = mediaTable(media, "co2");

  main.replaceChildren(
    el("h2", {}, site.name || site.id, " ", badge(site)), picker(media, medium), header,
    el("section", { "aria-labelledby": "media-h" }, el("h3", { id: "media-h" }, t("media.title")),
      el("div", { class: "scroll", tabindex: "0", role: "region", "aria-labelledby": "media-h" }, mediaBox),
      el("p", { class: "hint" }, t("media.hint"))),
    el("section", { "aria-labelledby": "lp-h" }, el("h3", { id: "lp-h" }, t("loadProfile")), controls, lpFig, el("p", { class: "hint" }, t("zoom.hint"))),
    el("div", { class: "grid2" }, dayFig, monthFig), carpetFig,
    el("div", { class: "grid2" }, el("section", {}, meters), el("section", {}, el("h3", {}, t("top")), top)),
    el("section", { "aria-labelledby": "cost-h" }, el("h3", { id: "cost-h" }, t("cost.title")), costBox,
      el("p", { class: "no-print" }, reportButton(`${base}/report?format=html&year=${new Date().getFullYear() - 1}`))),
    peak, el("section", {}, el("h3", {}, t("alerts.title")), alertBox));
  line = timeLine(chartBox, t("power"), "W", (a, b) => { from = a; to = b; rangeSel.value = "custom"; loadProfile(); });
  const dayBars = compareBars(dayBox, [], unit(medium)), monthBars = compareBars(monthBox, [], unit(medium));

  const energy = async () => {
    const q = query(medium);
    const [today, month, days, months, week, lastMonth] = await Promise.all([
      api(`${base}/energy?period=day&count=1${q}`), api(`${base}/energy?period=month&count=1&compare=previous_year${q}`),
      // The bars show energy only: not priced, so two years of months answer fast.
      api(`${base}/energy?period=day&count=14&compare=previous_year&cost=false${q}`), api(`${base}/energy?period=month&count=12&compare=previous_year&cost=false${q}`),
      api(`${base}/energy?period=week&count=1${q}`), api(`${base}/energy?period=month&count=1${q}`)]);
    // Cost for electricity only (the tariffs price electricity).
    const withCost = (p, cur) => value(p, medium) === null ? "–" : energyText(p, medium) + (elec ? " · " + money(p.cost, cur) : "");
    patch("[data-kpi=today]", withCost(today.total, today.currency), header);
    patch("[data-kpi=month]", withCost(month.total, month.currency), header);
    patch("[data-kpi=last-year]", energyText(month.previous_total, medium), header);
    // Yesterday, last week and last month with their cost (each the period before the running one).
    patch("[data-kpi=yesterday]", withCost(today.previous_total, today.currency), header);
    patch("[data-kpi=last-week]", withCost(week.previous_total, week.currency), header);
    patch("[data-kpi=last-month]", withCost(lastMonth.previous_total, lastMonth.currency), header);
    const k = p => value(p, medium);
    const dl = days.periods.map(p => date(p.start, { day: "numeric", month: "numeric" })), ml = months.periods.map(p => monthName(p.start));
    dayBars.set(dl, days.periods.map(k), days.previous.map(k));
    monthBars.set(ml, months.periods.map(k), months.previous.map(k));
    const rows = (labels, r) => labels.map((l, i) => [l, amount(r.periods[i], medium), amount(r.previous[i], medium)]);
    altTable(dayFig, [t("day"), t("thisPeriod"), t("yearBefore")], rows(dl, days));
    altTable(monthFig, [t("month"), t("thisPeriod"), t("yearBefore")], rows(ml, months));
  };
  // A failed read shows "–" with the reason, never a figure stuck at "…".
  const energyFailed = e => {
    for (const k of ["today", "month", "last-year", "yesterday", "last-week", "last-month"]) patch(`[data-kpi=${k}]`, "–", header);
    header.dataset.energyError = String(e?.message || e);
  };
  const carpetLoad = async () => {
    const start = midnight(); start.setDate(start.getDate() - 27);
    const pts = await siteHistory(site, start.getTime(), Date.now(), 3600);
    const c = carpet(canvas, pts, 28, carpetLegend);
    carpetFig.dataset.cells = c.cells;
    carpetSummary.textContent = t("carpet.summary", watts(c.night), watts(c.weekend), watts(c.work));
    const byDay = new Map();
    for (const [ms, v] of pts) { const d = date(ms, { dateStyle: "short" }); byDay.set(d, [...(byDay.get(d) || []), v]); }
    altTable(carpetFig, [t("day"), "min", "max"], [...byDay].map(([d, vs]) => [d, watts(Math.min(...vs)), watts(Math.max(...vs))]));
  };
  const topLoad = async () => {
    const r = await api(`${base}/top?period=month&count=1`);
    const names = new Map(site.devices.map(d => [d.id, d.name || d.id]));
    top.replaceChildren(...r.consumers.filter(c => c.wh !== null).slice(0, 8).map(c => el("li", { "data-consumer": c.device },
      names.get(c.device) + ": " + kwh(c.wh) + (c.share === null ? "" : " · " + pct(c.share).replace("+", "") + (c.share > 1.005 ? " ⚠ " + t("top.warn") : "")))));
    if (!top.children.length) top.replaceChildren(el("li", { class: "none" }, t("noData")));
  };
  const costLoad = async () => {
    const [cost, fc] = await Promise.all([api(`${base}/cost?period=month&count=1`).catch(() => null), api(`${base}/forecast`).catch(() => null)]);
    const eur = cents => cents === null || cents === undefined ? null : cents / 100;
    if (cost) {
      patch("[data-cost-month]", money(eur(cost.total.gross_cents), cost.currency) + " · " + kwh(cost.total.import_wh), costBox);
      const names = cost.total.tariffs.map(x => x.id + (x.valid_from ? " (" + date(x.valid_from) + ")" : ""));
      patch("[data-cost-tariff]", names.length ? names.join(", ") : "–", costBox);
    } else for (const k of ["month", "tariff"]) patch(`[data-cost-${k}]`, "–", costBox);
    if (fc) {
      const h = x => kwh(x.wh) + " · " + money(eur(x.gross_cents), fc.currency) + " (" + t("cost.band", money(eur(x.low_gross_cents), fc.currency), money(eur(x.high_gross_cents), fc.currency)) + ")";
      patch("[data-forecast-month]", h(fc.month), costBox);
      patch("[data-forecast-year]", h(fc.year), costBox);
      const b = fc.budget;
      patch("[data-budget]", !b ? t("cost.noBudget") : b.gross !== null && b.gross !== undefined
        ? t("cost.budgetLeft", money(eur(fc.year.gross_cents), fc.currency), money(b.gross, fc.currency), b.exceeded ? "⚠ +" + money(b.exceeded_by_gross, fc.currency) : "✓")
        : t("cost.budgetLeft", kwh(fc.year.wh), kwh((b.kwh ?? 0) * 1000), b.exceeded ? "⚠ +" + num(b.exceeded_by_kwh ?? 0, 0) + " kWh" : "✓"), costBox);
      costBox.dataset.loaded = "1";
    } else for (const k of ["forecast-month", "forecast-year", "budget"]) patch(`[data-${k}]`, "–", costBox);
  };
  // Today against the learned normal, and the day-ahead forecast's error on this building's own last days.
  const normalLoad = async () => {
    const n = await api(`${base}/normal`).catch(() => null);
    if (!n) {
      patch("[data-kpi=normal]", "–", header);
      patch("[data-normal-detail]", t("normal.none"), header);
      patch("[data-backtest]", t("backtest.none"), costBox);
      return;
    }
    const x = n.today, wd = date(x.from, { weekday: "long" }), until = time(x.until);
    patch("[data-normal-label]", t("normal.label", wd, until), header);
    patch("[data-kpi=normal]", x.ratio === null ? "–" : pct(x.ratio), header);
    patch("[data-normal-detail]", t("normal.detail", kwh(x.measured_wh), kwh(x.normal_wh), kwh(x.normal_day_wh))
      + (n.method.kind === "standard_profile" ? " " + t("normal.slp", n.method.days) : ""), header);
    header.dataset.normalRatio = x.ratio === null ? "" : x.ratio.toFixed(4);
    const b = n.backtest;
    patch("[data-backtest]", b.mape_pct === null ? t("backtest.none")
      : t("backtest.text", num(b.mape_pct, 1), b.days.length, b.inside), costBox);
    costBox.dataset.backtestDays = b.days.length;
  };
  const alertsCtl = await alertList(alertBox, a => a.site === site.id);
  await Promise.all([loadProfile(), energy().catch(energyFailed), costLoad().catch(() => {}), normalLoad().catch(() => {}), carpetLoad().catch(() => {}), topLoad().catch(() => {}),
    import("./accuracy.js").then(m => m.accuracyLine(costBox, site.id)).catch(() => {}),
    peakPanel(peak, base).catch(() => {}), fillMedia(mediaBox, base, media, "co2").catch(e => { mediaBox.dataset.mediaError = String(e); })]);
  return {
    onLive(device) {
      if (site.devices.some(d => d.id === device)) patch(`[data-site-power="${CSS.escape(site.id)}"]`, watts(sitePower(site)));
    },
    refresh() { energy().catch(energyFailed); normalLoad().catch(() => {}); peakPanel(peak, base).catch(() => {}); alertsCtl.refresh(); },
  };
}

// ---------------------------------------------------------------------------------------------- report

/** A button opening the energy report page at `path` (it needs the token, so it is fetched, then shown). */
export function reportButton(path) {
  return el("button", { type: "button", "data-report": path, onclick: async () => {
    const w = window.open("", "_blank");
    try {
      const r = await fetch(path, { headers: { Authorization: "Bearer " + state.token } });
      const html = await r.text();
      if (w) { w.document.open(); w.document.write(html); w.document.close(); }
    } catch (e) { w?.close(); announce(String(e)); }
  } }, t("report.link"));
}

// ---------------------------------------------------------------------------------------------- alerts

function alertWhere(a) {
  const site = state.sites.find(s => s.id === a.site);
  const device = a.subject.device && site?.devices.find(d => d.id === a.subject.device);
  return [device ? device.name || device.id : a.subject.device, a.subject.tree, site ? site.name || site.id : a.site].filter(Boolean).join(" · ");
}

function alertValue(e, v) {
  if (e.unit === "W") return watts(v);
  return num(v, e.unit === "kW" ? 1 : Math.abs(v) < 10 ? 2 : 0) + " " + e.unit;
}

function commentItems(a) {
  return (a.comments || []).map(c => el("li", { "data-comment": c.id }, el("b", {}, c.author), " (" + dateTime(c.at) + "): ", c.body));
}

function ackText(a) {
  return a.acknowledged_by ? t("ack.by", a.acknowledged_by, dateTime(a.acknowledged_at)) : "";
}

/** A list of the alerts matching `filter`, each with an acknowledge form; patched on refresh. */
export async function alertList(box, filter) {
  const items = new Map();
  const item = a => {
    const e = a.explanation;
    // The acknowledgement carries an optional comment, kept in the alert book with who and when.
    const cid = "ack-c-" + a.id.replace(/[^a-z0-9_-]/g, "-");
    const comment = el("textarea", { id: cid, name: "comment", rows: "2", maxlength: "2000", "data-ack-comment": a.id });
    const form = el("form", { class: "ack" },
      el("label", { for: cid }, t("ack.comment")), comment,
      el("button", { type: "submit", "data-ack": a.id, "aria-label": t("ack") + ": " + t("kind." + a.kind) + ", " + alertWhere(a) }, t("ack")));
    form.addEventListener("submit", async ev => {
      ev.preventDefault();
      form.querySelector("button").disabled = true;
      try {
        const text = comment.value.trim();
        const r = await api(`/api/v1/alerts/${enc(a.id)}/ack`, { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify(text ? { comment: text } : {}) });
        announce(t("ack.sent", t("kind." + a.kind)));
        if (r && r.episode) show(items.get(a.id), r);
        for (let i = 0; i < 20 && items.get(a.id)?.dataset.state === "open"; i++) { await new Promise(r => setTimeout(r, 500)); await refresh(); }
      } catch (err) { form.querySelector("button").disabled = false; announce(t("ack.failed", err.message)); }
    });
    return el("article", { class: "alert " + a.severity, "data-alert": a.id, "data-state": a.state },
      el("h4", {}, el("span", { class: "sev" }, t("sev." + a.severity)), " ", t("kind." + a.kind) + ": " + alertWhere(a)),
      el("p", { class: "expl" }, e.text, " (", e.baseline, ")"),
      el("p", { class: "facts" }, alertValue(e, e.observed) + " (" + t("threshold") + " " + alertValue(e, e.threshold) + ") · " + t("since") + " " + dateTime(e.since) + " · ",
        el("span", { "data-alert-state": "" }, t("state." + a.state))),
      el("p", { class: "acked", "data-acked": "" }, ackText(a)),
      el("ul", { class: "comments", "data-comments": "", "aria-label": t("comments") }, commentItems(a)),
      a.state === "open" ? form : null);
  };
  // Patches an alert's state, acknowledgement and comments; true when its state changed.
  const show = (node, a) => {
    let changed = false;
    if (node.dataset.state !== a.state) {
      changed = true;
      node.dataset.state = a.state;
      patch("[data-alert-state]", t("state." + a.state), node);
      patch("[data-acked]", ackText(a), node);
      if (a.state !== "open") node.querySelector("form.ack")?.remove();
    }
    const ul = node.querySelector("[data-comments]");
    if (ul && ul.children.length !== (a.comments || []).length) ul.replaceChildren(...commentItems(a));
    return changed;
  };
  // Returns true when something changed state.
  const refresh = async () => {
    const list = (await api("/api/v1/alerts").catch(() => [])).filter(filter);
    let changed = false;
    for (const a of list) {
      const old = items.get(a.id);
      if (!old) { const n = item(a); items.set(a.id, n); box.append(n); continue; }
      if (show(old, a)) changed = true;
    }
    for (const [id, n] of items) if (!list.some(a => a.id === id)) { n.remove(); items.delete(id); changed = true; }
    const empty = box.querySelector(".none");
    if (!items.size && !empty) box.append(el("p", { class: "none" }, t("alerts.none")));
    if (items.size && empty) empty.remove();
    return changed;
  };
  await refresh();
  return { refresh };
}

export async function alerts(main) {
  const box = el("div", { class: "alert-list" });
  main.replaceChildren(el("h2", {}, t("alerts.title")), box);
  const ctl = await alertList(box, () => true);
  return { refresh: ctl.refresh };
}

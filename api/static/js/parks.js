// Parks department: a map of the trees coloured by urgency (Leaflet, vendored; tiles only if configured, else
// a plain background), filters by state, species, age (from the planting year, in Gieß den Kiez's classes),
// park and district, and today's watering list ordered as a route from the depot, with the litres to give
// each tree and its 1–3-day outlook, exportable as CSV and GPX and printable; recording a watering (tree,
// litres, time, who) from the list or the map popup; each tree's soil history over 30 days with its
// waterings, the rain that fell (bars) and the forecast rain marked; the season's litres per district against the guideline (season.js).

import { el, state, api, download, enc, announce } from "./util.js";
import { t, num, date, dateTime } from "./i18n.js";
import { nearestNeighbour, csv, gpx } from "./route.js";
import { alertList } from "./facility.js";
import { figure, altTable } from "./charts.js";
import { soilChart } from "./soil.js";
import { seasonPanel } from "./season.js";

const localInput = ms => new Date(ms - new Date(ms).getTimezoneOffset() * 6e4).toISOString().slice(0, 16);

/** Litres to give now, e.g. "170 L"; "–" when unknown. */
const litres = p => p.litres_now ? num(p.litres_now.litres, 0) + " L" : "–";
/** Where the litres come from, in words. */
const litresBasis = p => p.litres_now ? t("litres." + p.litres_now.basis, num(p.litres_now.given_since_reading || 0, 0)) : "";
/** The 1–3-day outlook in words: critical now / in N days / not within 3 days / unknown, and rain expected. */
const outlook = p => {
  const o = p.outlook;
  if (!o) return "–";
  const head = o.kind === "critical_in" ? t("outlook.in", num(o.critical_in_days, 1)) : t("outlook." + o.kind, num(o.horizon_days, 0));
  return o.rain_mm > 0 ? head + " · " + t("outlook.rain", num(o.rain_mm, 1)) : head;
};

/** The outlook's heading with the forecast's published error (`api.dashboard.forecast_error`). */
const outlookHead = () => state.settings.forecast_error ? t("trees.outlook") + " " + t("trees.forecastError", state.settings.forecast_error) : t("trees.outlook");

/** The record-watering form and the chosen tree's soil history and watering log. */
function waterPanel(onSaved) {
  const treeSel = el("select", { id: "w-tree", name: "tree", required: true });
  const amount = el("input", { id: "w-litres", name: "litres", type: "number", min: "1", max: "20000", step: "1", value: "100", required: true, inputmode: "numeric" });
  const at = el("input", { id: "w-at", name: "at", type: "datetime-local" });
  const by = el("input", { id: "w-by", name: "by", type: "text", maxlength: "100", autocomplete: "off" });
  const status = el("p", { class: "form-status", role: "status", "data-water-status": "" });
  const form = el("form", { class: "water-form", "data-watering-form": "", "aria-labelledby": "w-h" },
    el("h3", { id: "w-h" }, t("water.title")),
    el("label", { for: "w-tree" }, t("water.tree")), treeSel,
    el("label", { for: "w-litres" }, t("water.litres")), amount,
    el("label", { for: "w-at" }, t("water.at")), at,
    el("label", { for: "w-by" }, t("water.by")), by,
    el("button", { type: "submit" }, t("water.save")), status);
  const chartBox = el("div", { class: "plot", role: "img", "aria-label": t("soil.history") });
  const fig = figure("soil-history", t("soil.history"), chartBox);
  const logList = el("ul", { class: "water-log", "data-water-log": "" });
  // The chosen tree's litres to give now (with where the figure comes from) and its outlook.
  const advice = el("p", { class: "summary", "data-tree-advice": "" });
  const logSum = el("p", { class: "summary", "data-water-sum": "" });
  let chart = null, features = [];
  const section = el("section", { class: "no-print water-panel", id: "water" }, form,
    el("div", {}, advice, fig, el("h3", {}, t("water.log")), logSum, logList));
  const feature = id => features.find(f => f.properties.tree === id);
  const history = async id => {
    const f = feature(id);
    if (!f) return;
    chart ??= soilChart(chartBox, t("trees.tension"), "kPa");
    const p = f.properties, to = Date.now(), from = to - 30 * 864e5;
    const tension = p.tension_kpa !== undefined || p.moisture_pct === undefined;
    const quantity = tension ? "soil_water_tension" : "soil_moisture", unit = tension ? "kPa" : "%";
    chart.plot.series[1].label = tension ? t("trees.tension") : t("trees.moisture");
    const q = `quantity=${quantity}&window=7200s&agg=mean&from=${enc(new Date(from).toISOString())}&to=${enc(new Date(to).toISOString())}`;
    const sensor = (p.sensors || [])[0];
    const range = `from=${enc(new Date(from).toISOString())}&to=${enc(new Date(to).toISOString())}`;
    const [hist, log, fellRes] = await Promise.all([
      sensor ? api(`/api/v1/devices/${enc(sensor)}/history?${q}`).catch(() => ({ points: [] })) : { points: [] },
      api(`/api/v1/trees/${enc(id)}/waterings`).catch(() => ({ waterings: [], litres: 0 })),
      api(`/api/v1/trees/${enc(id)}/rain?${range}`).catch(() => ({ days: [] }))]);
    // The rain that fell per local day (observed by the weather feed); a day without a value has no bar.
    const fell = (fellRes.days || []).map(d => { const a = Date.parse(d.day + "T00:00"); return [a, a + 864e5, d.mm]; });
    const points = hist.points.map(x => [Date.parse(x.ts), tension ? Math.abs(x.value) : x.value]);
    const given = log.waterings.filter(w => Date.parse(w.at) >= from).map(w => [Date.parse(w.at), w.litres]);
    const rainMm = p.outlook?.rain_mm;
    const rain = rainMm > 0 ? { from: to, to: to + 3 * 864e5, mm: rainMm } : null;
    chart.set(points, given, rain, from, to, fell);
    fig.dataset.rain = rain ? String(rain.mm) : "";
    fig.dataset.rainFell = (fellRes.days || []).map(d => d.day + ":" + d.mm).join(" ");
    advice.replaceChildren(el("strong", {}, t("trees.litresNow") + ": " + litres(p)), " (" + litresBasis(p) + ") · ",
      t("trees.outlook") + ": ", el("span", { "data-advice-outlook": id }, outlook(p)),
      ...(p.outlook?.rain_hold ? [el("span", {}, " · " + p.outlook.rain_hold)] : []));
    fig.dataset.points = points.length;
    fig.dataset.waterings = given.length;
    fig.querySelector("figcaption").textContent = t("soil.history") + " · " + id + (sensor ? "" : " · " + t("soil.sensorless"));
    altTable(fig, [t("time"), unit, t("water.litres"), t("soil.rainMm")], [
      ...points.filter((_, i) => i % 12 === 0).map(([ms, v]) => [ms, dateTime(ms), num(v, 1), "", ""]),
      ...given.map(([ms, l]) => [ms, dateTime(ms), "", num(l, 0), ""]),
      ...fell.map(([a, , mm]) => [a, date(a, { dateStyle: "medium" }), "", "", num(mm, 1) + " mm (" + t("soil.observed") + ")"]),
      ...(rain ? [[rain.from, dateTime(rain.from) + " – " + dateTime(rain.to), "", "", num(rain.mm, 1) + " mm (" + t("soil.forecast") + ")"]] : [])]
      .sort((a, b) => a[0] - b[0]).map(r => r.slice(1)));
    logSum.textContent = log.waterings.length ? t("water.sum", log.waterings.length, num(log.litres, 0)) : t("water.none");
    logList.replaceChildren(...log.waterings.slice(0, 20).map(w => el("li", { "data-watering": w.id },
      dateTime(w.at) + " · " + num(w.litres, 0) + " L · " + w.by)));
  };
  treeSel.addEventListener("change", () => history(treeSel.value));
  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    const body = { litres: Number(amount.value) };
    if (at.value) body.at = new Date(at.value).toISOString();
    if (by.value.trim()) body.by = by.value.trim();
    try {
      const w = await api(`/api/v1/trees/${enc(treeSel.value)}/waterings`, { method: "POST",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      status.textContent = t("water.saved", w.tree, num(w.litres, 0));
      announce(status.textContent);
      form.dataset.saved = w.id;
      await history(treeSel.value);
      onSaved?.(w);
    } catch (e) {
      status.textContent = t("water.failed", e.message);
    } finally { button.disabled = false; }
  });
  return {
    section,
    setTrees(fs) {
      features = fs;
      const ids = fs.map(f => f.properties.tree);
      if ([...treeSel.options].map(o => o.value).join() !== ids.join()) {
        const cur = treeSel.value;
        treeSel.replaceChildren(...ids.map(id => el("option", { value: id }, id + " · " + feature(id).properties.species)));
        if (ids.includes(cur)) treeSel.value = cur;
      }
    },
    /** Opens the form for tree `id`: chosen, time now, focus on the litres. */
    open(id) {
      treeSel.value = id;
      const advised = feature(id)?.properties.litres_now?.litres;
      if (advised > 0) amount.value = String(advised);
      at.value = localInput(Date.now());
      section.scrollIntoView?.({ block: "start" });
      amount.focus();
      history(id);
    },
    show: history,
  };
}

const COLOUR = { critical: "#b42318", moderate: "#b54708", good: "#067647", unknown: "#667085" };
const needsWater = p => p.state === "critical" || p.state === "moderate" || (p.days_until_critical !== undefined && p.days_until_critical <= 1);
const soil = p => p.tension_kpa !== undefined ? num(p.tension_kpa, 0) + " kPa" : p.moisture_pct !== undefined ? num(p.moisture_pct, 1) + " %" : "–";
const days = p => p.days_until_critical === undefined ? "–" : num(p.days_until_critical, 1);
/** The 3–5-day trend in words: drying, wetting or steady (dryness change per day; absent: unknown). */
const trend = p => p.trend_per_day === undefined || p.trend_per_day === null ? "–"
  : p.trend_per_day > 0.01 ? "↑ " + t("trend.drying") : p.trend_per_day < -0.01 ? "↓ " + t("trend.wetting") : "→ " + t("trend.steady");
/** Gieß den Kiez's age classes by standing years since planting: young ≤ 4, middle ≤ 10, old > 10. */
const AGES = [["young", 0, 4], ["middle", 5, 10], ["old", 11, Infinity]];
const ageClass = p => {
  if (!Number.isFinite(p.planted)) return "";
  const years = new Date().getFullYear() - p.planted;
  return (AGES.find(([, lo, hi]) => years >= lo && years <= hi) || AGES[0])[0];
};

export async function trees(main) {
  let features = [];
  const stateSel = el("select", { id: "f-state" }, el("option", { value: "" }, t("trees.all")),
    ["critical", "moderate", "good", "unknown"].map(s => el("option", { value: s }, t("soil." + s))));
  const speciesSel = el("select", { id: "f-species" }, el("option", { value: "" }, t("trees.all")));
  const ageSel = el("select", { id: "f-age" }, el("option", { value: "" }, t("trees.all")),
    AGES.map(([a]) => el("option", { value: a }, t("age." + a))));
  const parkSel = el("select", { id: "f-park" }, el("option", { value: "" }, t("trees.all")));
  // A tree's district (Stadtbezirk); a tree without one counts under its park, as in the season report.
  const district = p => p.district ?? p.site;
  const districtSel = el("select", { id: "f-district" }, el("option", { value: "" }, t("trees.all")));
  const season = seasonPanel();
  const parkName = id => state.sites.find(s => s.id === id)?.name || id;
  const mapBox = el("div", { id: "map", class: "map", role: "region", "aria-label": t("trees.map") });
  const legend = el("ul", { class: "map-legend", "aria-label": t("trees.state") },
    Object.entries(COLOUR).map(([s, c]) => el("li", {}, el("span", { class: "dot", style: `background:${c}` }), " " + t("soil." + s))));
  const summary = el("p", { class: "summary", "data-route-summary": "" });
  // Broken or stuck sensors: a list of their own, apart from the watering list.
  const maintenance = el("div", { class: "alert-list", "data-maintenance": "" });
  const tbody = el("tbody");
  const table = el("table", { class: "watering" }, el("caption", {}, t("trees.list") + " · " + date(Date.now(), { dateStyle: "full" })),
    el("thead", {}, el("tr", {}, [t("trees.stop"), t("trees.tree"), t("trees.species"), t("trees.state"), t("trees.tension") + " / " + t("trees.moisture"),
      t("trees.trend"), t("trees.days"), outlookHead(), t("trees.litresNow"), t("trees.distance") + " (km)", t("water.record")].map(h => el("th", { scope: "col" }, h)))), tbody);
  const water = waterPanel(() => Promise.all([load(), season.load()]).catch(() => {}));
  let route = { stops: [], total_km: 0 };
  const exportRows = () => route.stops.map((s, i) => [i + 1, s.tree, s.species, district(s), t("soil." + s.state), soil(s), trend(s), days(s), outlook(s),
    s.litres_now ? s.litres_now.litres : "", num(s.leg_km, 2), s.lat, s.lon]);
  const buttons = el("div", { class: "controls no-print" },
    el("button", { type: "button", onclick: () => download("giessliste.csv", "text/csv;charset=utf-8",
      "\ufeff" + csv(exportRows(), [t("trees.stop"), t("trees.tree"), t("trees.species"), t("trees.district"), t("trees.state"), t("trees.tension"), t("trees.trend"), t("trees.days"),
      t("trees.outlook"), t("trees.litresNow") + " (L)", t("trees.distance"), "lat", "lon"], r => r)) }, t("trees.csv")),
    el("button", { type: "button", onclick: () => download("giessliste.gpx", "application/gpx+xml",
      gpx(route.stops, t("trees.list"), s => t("soil." + s.state) + ", " + s.species + ", " + litres(s) + ", " + outlook(s))) }, t("trees.gpx")),
    el("button", { type: "button", onclick: () => window.print() }, t("trees.print")));
  main.replaceChildren(el("h2", {}, t("trees.title")),
    el("div", { class: "controls no-print", role: "group", "aria-label": t("trees.filters") },
      el("label", { for: "f-state" }, t("trees.state")), stateSel, el("label", { for: "f-species" }, t("trees.species")), speciesSel,
      el("label", { for: "f-age" }, t("trees.age")), ageSel, el("label", { for: "f-park" }, t("trees.park")), parkSel,
      el("label", { for: "f-district" }, t("trees.district")), districtSel,
      el("span", { class: "summary", role: "status", "data-filter-count": "" })),
    el("div", { class: "map-wrap no-print" }, mapBox, legend,
      state.settings.tile_url ? null : el("p", { class: "hint" }, t("trees.plain"))),
    el("section", { class: "print-area" }, el("h3", {}, t("trees.list")), summary, buttons, el("div", { class: "scroll" }, table)),
    water.section,
    season.section,
    el("section", { class: "no-print" }, el("h3", {}, t("trees.maintenance")), maintenance));

  const map = L.map(mapBox, { zoomControl: true, attributionControl: !!state.settings.tile_url });
  if (state.settings.tile_url) L.tileLayer(state.settings.tile_url, { attribution: state.settings.tile_attribution || "", maxZoom: 19 }).addTo(map);
  const markers = new Map();
  let fitted = false;

  const shown = p => (!stateSel.value || p.state === stateSel.value) && (!speciesSel.value || p.species === speciesSel.value)
    && (!ageSel.value || ageClass(p) === ageSel.value) && (!parkSel.value || p.site === parkSel.value)
    && (!districtSel.value || district(p) === districtSel.value);
  const apply = () => {
    for (const f of features) {
      const p = f.properties, m = markers.get(p.tree);
      if (shown(p)) { if (!map.hasLayer(m)) m.addTo(map); } else m.remove();
    }
    const todo = features.map(f => ({ ...f.properties, lat: f.geometry.coordinates[1], lon: f.geometry.coordinates[0] })).filter(p => shown(p) && needsWater(p));
    todo.sort((a, b) => (b.urgency?.score ?? -1) - (a.urgency?.score ?? -1));
    const depot = state.settings.depot;
    route = nearestNeighbour(todo, depot);
    summary.textContent = route.stops.length ? t("trees.route", depot ? t("trees.depot") : t("trees.first"), route.stops.length, num(route.total_km, 2)) : t("trees.none");
    tbody.replaceChildren(...route.stops.map((s, i) => el("tr", { "data-tree": s.tree, "data-state": s.state },
      el("td", { class: "num" }, String(i + 1)), el("th", { scope: "row" }, s.tree), el("td", {}, s.species),
      el("td", {}, el("span", { class: "dot", style: `background:${COLOUR[s.state] || COLOUR.unknown}` }), " " + t("soil." + s.state)),
      el("td", { class: "num" }, soil(s)), el("td", { "data-trend": s.tree }, trend(s)), el("td", { class: "num" }, days(s)),
      el("td", { "data-outlook": s.tree }, outlook(s)),
      el("td", { class: "num", "data-litres": s.tree, title: litresBasis(s) }, litres(s)), el("td", { class: "num" }, num(s.leg_km, 2)),
      el("td", { class: "no-print" }, el("button", { type: "button", "data-water": s.tree, "aria-label": t("water.record") + ": " + s.tree,
        onclick: () => water.open(s.tree) }, t("water.record"))))));
  };
  const load = async () => {
    const fc = await api("/api/v1/trees");
    features = fc.features;
    for (const f of features) {
      const p = f.properties, [lon, lat] = f.geometry.coordinates;
      const style = { radius: 6 + Math.min(8, 4 * (p.urgency?.score ?? 0)), color: "#101828", weight: 1, fillColor: COLOUR[p.state] || COLOUR.unknown, fillOpacity: 0.9 };
      const label = `${p.tree} (${p.species}): ${t("soil." + p.state)}, ${soil(p)}`;
      let m = markers.get(p.tree);
      if (!m) {
        m = L.circleMarker([lat, lon], style).bindTooltip(label);
        const tree = p.tree;
        m.bindPopup(() => el("div", { class: "popup" }, el("p", {}, m.getTooltip()?.getContent() || tree),
          el("button", { type: "button", "data-water-popup": tree, onclick: () => { map.closePopup(); water.open(tree); } }, t("water.record"))));
        markers.set(p.tree, m);
      } else {
        m.setStyle(style).setTooltipContent(label);
      }
      m.getElement?.()?.setAttribute("data-tree-marker", p.tree);
    }
    const species = [...new Set(features.map(f => f.properties.species))].sort();
    if (speciesSel.options.length !== species.length + 1) {
      speciesSel.replaceChildren(el("option", { value: "" }, t("trees.all")), ...species.map(s => el("option", { value: s }, s)));
    }
    const parks = [...new Set(features.map(f => f.properties.site))].sort();
    if (parkSel.options.length !== parks.length + 1) {
      parkSel.replaceChildren(el("option", { value: "" }, t("trees.all")), ...parks.map(s => el("option", { value: s }, parkName(s))));
    }
    const districts = [...new Set(features.map(f => district(f.properties)))].sort();
    if (districtSel.options.length !== districts.length + 1) {
      districtSel.replaceChildren(el("option", { value: "" }, t("trees.all")), ...districts.map(d => el("option", { value: d }, state.sites.some(s => s.id === d) ? parkName(d) : d)));
    }
    apply();
    water.setTrees(features);
    for (const [id, m] of markers) m.getElement?.()?.setAttribute("data-tree-marker", id);
    mapBox.dataset.markers = [...markers.values()].filter(m => map.hasLayer(m)).length;
    main.querySelector("[data-filter-count]").textContent = t("trees.shown", mapBox.dataset.markers, features.length);
    if (!fitted && features.length) {
      map.fitBounds(L.latLngBounds(features.map(f => [f.geometry.coordinates[1], f.geometry.coordinates[0]])).pad(0.3), { maxZoom: 18 });
      fitted = true;
    }
  };
  const filtered = () => {
    apply();
    const n = [...markers.values()].filter(m => map.hasLayer(m)).length;
    mapBox.dataset.markers = n;
    main.querySelector("[data-filter-count]").textContent = t("trees.shown", n, features.length);
  };
  for (const sel of [stateSel, speciesSel, ageSel, parkSel, districtSel]) sel.addEventListener("change", filtered);
  await load().catch(() => {});
  await season.load().catch(() => {});
  await alertList(maintenance, a => a.category === "maintenance");
  if (!features.length) map.setView([51.2, 6.7], 13);
  else water.show(features[0].properties.tree).catch(() => {});
  return { refresh: () => Promise.all([load(), season.load()]).catch(() => {}) };
}

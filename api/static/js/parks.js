// Parks department: a map of the trees coloured by urgency (Leaflet, vendored; tiles only if configured, else
// a plain background), filters by state and species, and today's watering list ordered as a route from the
// depot, exportable as CSV and GPX and printable. Recording waterings needs the database and comes with it.

import { el, state, api, download } from "./util.js";
import { t, num, date } from "./i18n.js";
import { nearestNeighbour, csv, gpx } from "./route.js";
import { alertList } from "./facility.js";

const COLOUR = { critical: "#b42318", moderate: "#b54708", good: "#067647", unknown: "#667085" };
const needsWater = p => p.state === "critical" || p.state === "moderate" || (p.days_until_critical !== undefined && p.days_until_critical <= 1);
const soil = p => p.tension_kpa !== undefined ? num(p.tension_kpa, 0) + " kPa" : p.moisture_pct !== undefined ? num(p.moisture_pct, 1) + " %" : "–";
const days = p => p.days_until_critical === undefined ? "–" : num(p.days_until_critical, 1);

export async function trees(main) {
  let features = [];
  const stateSel = el("select", { id: "f-state" }, el("option", { value: "" }, t("trees.all")),
    ["critical", "moderate", "good", "unknown"].map(s => el("option", { value: s }, t("soil." + s))));
  const speciesSel = el("select", { id: "f-species" }, el("option", { value: "" }, t("trees.all")));
  const mapBox = el("div", { id: "map", class: "map", role: "region", "aria-label": t("trees.map") });
  const legend = el("ul", { class: "map-legend", "aria-label": t("trees.state") },
    Object.entries(COLOUR).map(([s, c]) => el("li", {}, el("span", { class: "dot", style: `background:${c}` }), " " + t("soil." + s))));
  const summary = el("p", { class: "summary", "data-route-summary": "" });
  // Broken or stuck sensors: a list of their own, apart from the watering list.
  const maintenance = el("div", { class: "alert-list", "data-maintenance": "" });
  const tbody = el("tbody");
  const table = el("table", { class: "watering" }, el("caption", {}, t("trees.list") + " · " + date(Date.now(), { dateStyle: "full" })),
    el("thead", {}, el("tr", {}, [t("trees.stop"), t("trees.tree"), t("trees.species"), t("trees.state"), t("trees.tension") + " / " + t("trees.moisture"),
      t("trees.days"), t("trees.distance") + " (km)"].map(h => el("th", { scope: "col" }, h)))), tbody);
  let route = { stops: [], total_km: 0 };
  const exportRows = () => route.stops.map((s, i) => [i + 1, s.tree, s.species, t("soil." + s.state), soil(s), days(s), num(s.leg_km, 2), s.lat, s.lon]);
  const buttons = el("div", { class: "controls no-print" },
    el("button", { type: "button", onclick: () => download("giessliste.csv", "text/csv;charset=utf-8",
      "\ufeff" + csv(exportRows(), [t("trees.stop"), t("trees.tree"), t("trees.species"), t("trees.state"), t("trees.tension"), t("trees.days"), t("trees.distance"), "lat", "lon"], r => r)) }, t("trees.csv")),
    el("button", { type: "button", onclick: () => download("giessliste.gpx", "application/gpx+xml",
      gpx(route.stops, t("trees.list"), s => t("soil." + s.state) + ", " + s.species)) }, t("trees.gpx")),
    el("button", { type: "button", onclick: () => window.print() }, t("trees.print")));
  main.replaceChildren(el("h2", {}, t("trees.title")),
    el("div", { class: "controls no-print", role: "group", "aria-label": t("trees.filters") },
      el("label", { for: "f-state" }, t("trees.state")), stateSel, el("label", { for: "f-species" }, t("trees.species")), speciesSel),
    el("div", { class: "map-wrap no-print" }, mapBox, legend,
      state.settings.tile_url ? null : el("p", { class: "hint" }, t("trees.plain"))),
    el("section", { class: "print-area" }, el("h3", {}, t("trees.list")), summary, buttons, el("div", { class: "scroll" }, table)),
    el("section", { class: "no-print" }, el("h3", {}, t("trees.maintenance")), maintenance),
    el("p", { class: "hint no-print" }, t("leftOut")));

  const map = L.map(mapBox, { zoomControl: true, attributionControl: !!state.settings.tile_url });
  if (state.settings.tile_url) L.tileLayer(state.settings.tile_url, { attribution: state.settings.tile_attribution || "", maxZoom: 19 }).addTo(map);
  const markers = new Map();
  let fitted = false;

  const shown = p => (!stateSel.value || p.state === stateSel.value) && (!speciesSel.value || p.species === speciesSel.value);
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
      el("td", { class: "num" }, soil(s)), el("td", { class: "num" }, days(s)), el("td", { class: "num" }, num(s.leg_km, 2)))));
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
    apply();
    for (const [id, m] of markers) m.getElement?.()?.setAttribute("data-tree-marker", id);
    mapBox.dataset.markers = [...markers.values()].filter(m => map.hasLayer(m)).length;
    if (!fitted && features.length) {
      map.fitBounds(L.latLngBounds(features.map(f => [f.geometry.coordinates[1], f.geometry.coordinates[0]])).pad(0.3), { maxZoom: 18 });
      fitted = true;
    }
  };
  stateSel.addEventListener("change", () => { apply(); mapBox.dataset.markers = [...markers.values()].filter(m => map.hasLayer(m)).length; });
  speciesSel.addEventListener("change", () => { apply(); mapBox.dataset.markers = [...markers.values()].filter(m => map.hasLayer(m)).length; });
  await load().catch(() => {});
  await alertList(maintenance, a => a.category === "maintenance");
  if (!features.length) map.setView([51.2, 6.7], 13);
  return { refresh: () => load().catch(() => {}) };
}

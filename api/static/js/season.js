// The parks view's season panel: per district the litres logged this season against the guideline of 100 L
// per tree and week (`GET /api/v1/trees/season`), as a table with a meter per district and the litres saved
// in weeks a tree was not critical; the trees below the guideline, driest share first; the trees that stayed
// critical for more than 3 days with their longest spell; each sensor's uptime. Every figure's definition is
// written under it. A year picker goes back to earlier seasons.

import { el, api, enc, state } from "./util.js";
import { t, num, date } from "./i18n.js";

const pct = share => num(Math.round(share * 100), 0) + " %";

/** The panel; `load()` fetches the chosen season and patches the tables. */
export function seasonPanel() {
  const now = new Date().getFullYear();
  const year = el("select", { id: "s-year" }, [0, 1, 2].map(i => el("option", { value: String(now - i) }, String(now - i))));
  const period = el("p", { class: "summary", "data-season-period": "" });
  const districts = el("tbody");
  const below = el("ul", { class: "season-below", "data-season-below": "" });
  const table = el("table", { class: "season", "data-season": "" },
    el("caption", {}, t("season.districts")),
    el("thead", {}, el("tr", {}, [t("season.district"), t("season.trees"), t("season.waterings"), t("season.litres"),
      t("season.guideline"), t("season.share"), t("season.saved"), t("season.unwatered")].map(h => el("th", { scope: "col" }, h)))),
    districts);
  const stayed = el("ul", { class: "season-critical", "data-season-critical-list": "" });
  const stayedHead = el("h4", {});
  const uptime = el("tbody");
  const uptimeTable = el("table", { class: "season", "data-season-uptime": "" },
    el("caption", {}, t("season.uptime")),
    el("thead", {}, el("tr", {}, [t("season.sensor"), t("season.tree"), t("season.received"), t("season.expected"),
      t("season.uptimeShare"), t("season.daysWith")].map(h => el("th", { scope: "col" }, h)))),
    uptime);
  const section = el("section", { class: "season-panel", "aria-labelledby": "season-h", "data-season-panel": "" },
    el("h3", { id: "season-h" }, t("season.title")),
    el("div", { class: "controls no-print" }, el("label", { for: "s-year" }, t("season.year")), year),
    period, el("div", { class: "scroll" }, table), el("p", { class: "hint" }, t("season.savedDef")),
    el("h4", {}, t("season.below")), below,
    stayedHead, stayed, el("p", { class: "hint" }, t("season.stayedDef")),
    el("div", { class: "scroll" }, uptimeTable), el("p", { class: "hint" }, t("season.uptimeDef")));
  const load = async () => {
    const r = await api(`/api/v1/trees/season?year=${enc(year.value)}`);
    section.dataset.year = year.value;
    // The season's days in the API's time zone (its edges are local midnights there); the end is exclusive.
    const day = ms => date(ms, { dateStyle: "medium", timeZone: state.settings.timezone });
    period.textContent = t("season.period", day(Date.parse(r.from)), day(Math.max(Date.parse(r.from), Date.parse(r.to) - 1)), num(r.weeks, 1));
    const waterings = new Map();
    for (const tr of r.trees) waterings.set(tr.district, (waterings.get(tr.district) || 0) + tr.waterings);
    districts.replaceChildren(...r.districts.map(d => el("tr", { "data-district": d.district },
      el("th", { scope: "row" }, d.district), el("td", { class: "num" }, String(d.trees)),
      el("td", { class: "num" }, String(waterings.get(d.district) || 0)),
      el("td", { class: "num", "data-district-litres": d.district }, num(d.litres, 0) + " L"),
      el("td", { class: "num" }, num(d.guideline_litres, 0) + " L"),
      el("td", {}, el("meter", { min: "0", max: "1", low: "0.5", high: "0.99", optimum: "1", value: String(Math.min(1, d.share)),
        "aria-label": t("season.shareOf", d.district) }), " " + pct(d.share)),
      el("td", { class: "num", "data-district-saved": d.district }, num(d.litres_saved, 0) + " L"),
      el("td", { class: "num" }, String(d.trees_unwatered)))));
    stayedHead.textContent = t("season.stayed", r.critical_spell_days);
    const byId = new Map(r.trees.map(tr => [tr.tree, tr]));
    const stayedTrees = r.trees_stayed_critical.map(id => byId.get(id)).filter(Boolean);
    stayed.replaceChildren(...(stayedTrees.length ? stayedTrees.map(tr => el("li", { "data-season-critical": tr.tree },
      t("season.stayedRow", tr.tree, tr.district, tr.longest_critical.days, date(Date.parse(tr.longest_critical.first_day), { dateStyle: "medium", timeZone: "UTC" }),
        date(Date.parse(tr.longest_critical.last_day), { dateStyle: "medium", timeZone: "UTC" }), tr.critical_days)))
      : [el("li", {}, t("season.noneStayed", r.critical_spell_days))]));
    const sensors = r.trees.flatMap(tr => tr.sensors.map(s => ({ ...s, tree: tr.tree })));
    uptime.replaceChildren(...(sensors.length ? sensors.map(s => el("tr", { "data-uptime-sensor": s.device + (s.depth > 1 ? "#" + s.depth : "") },
      el("th", { scope: "row" }, s.device + (s.depth > 1 ? " (" + s.depth + ")" : "")), el("td", {}, s.tree),
      el("td", { class: "num" }, num(s.received, 0)), el("td", { class: "num" }, num(s.expected, 0)),
      el("td", { class: "num", "data-uptime": s.device }, s.uptime === undefined || s.uptime === null ? "–" : num(s.uptime * 100, 1) + " %"),
      el("td", { class: "num" }, String(s.days_with_readings))))
      : [el("tr", {}, el("td", { colspan: "6" }, t("season.noSensors")))]));
    const short = r.trees.filter(tr => tr.guideline_litres > 0 && tr.litres < tr.guideline_litres).sort((a, b) => a.share - b.share);
    below.replaceChildren(...(short.length ? short.slice(0, 50).map(tr => el("li", { "data-season-tree": tr.tree },
      t("season.treeRow", tr.tree, tr.district, num(tr.litres, 0), num(tr.guideline_litres, 0), tr.waterings)))
      : [el("li", {}, r.weeks > 0 ? t("season.noneBelow") : t("season.notStarted"))]));
    if (short.length > 50) below.append(el("li", {}, t("season.more", short.length - 50)));
  };
  year.addEventListener("change", () => load().catch(e => { period.textContent = t("season.failed", e.message); }));
  return { section, load };
}

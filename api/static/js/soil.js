// A tree's soil history (uPlot, vendored): one sensor's tension (kPa) or moisture (%) over the last 30 days
// as a line, the waterings logged as points on a litres axis, and the rain the weather feed forecasts for
// the next three days (the tree status's `forecast.rain_3d_mm`) as a bar over those days on a mm axis. The
// weather feed carries no observed rain, so past rain shows only through the soil line itself.

import { t, num, date } from "./i18n.js";

const ACCENT = "#0b5cad", WATER = "#067647", RAIN = "#5b8def";
const width = node => Math.max(280, (node.clientWidth || node.parentElement?.clientWidth || 600) - 4);

/** The chart in `node`; `set(points, waterings, rain, from, to)` replaces its data. */
export function soilChart(node, label, unit) {
  const plot = new uPlot({
    width: width(node), height: 220,
    scales: { x: { time: true }, L: { range: (u, lo, hi) => [0, Math.max(100, hi || 0) * 1.1] },
      mm: { range: (u, lo, hi) => [0, Math.max(10, hi || 0) * 1.5] } },
    axes: [{ values: (u, vs) => vs.map(v => v === null ? "" : date(v * 1000, { day: "numeric", month: "short" })), space: 60 },
      { values: (u, vs) => vs.map(v => num(v, 0) + " " + unit), size: 70 },
      { scale: "L", side: 1, values: (u, vs) => vs.map(v => num(v, 0) + " L"), size: 60, grid: { show: false } },
      { scale: "mm", side: 1, values: (u, vs) => vs.map(v => num(v, 0) + " mm"), size: 55, grid: { show: false }, stroke: RAIN }],
    series: [{ label: t("time"), value: (u, v) => v === null ? "–" : date(v * 1000, { dateStyle: "short", timeStyle: "short" }) },
      { label, stroke: ACCENT, width: 1.5, spanGaps: true, value: (u, v) => v === null ? "–" : num(v, 1) + " " + unit },
      { label: t("water.litres"), scale: "L", stroke: WATER, fill: WATER, width: 0, paths: () => null,
        points: { show: true, size: 10, fill: WATER }, value: (u, v) => v === null ? "–" : num(v, 0) + " L" },
      { label: t("soil.rain"), scale: "mm", stroke: RAIN, fill: "rgba(91,141,239,.35)", width: 1,
        paths: uPlot.paths.stepped({ align: 1 }), points: { show: false }, spanGaps: false,
        value: (u, v) => v === null ? "–" : num(v, 1) + " mm" }],
  }, [[], [], [], []], node);
  new ResizeObserver(() => plot.setSize({ width: width(node), height: plot.height })).observe(node);
  return {
    plot,
    /**
     * `points` `[[ms, value]]`, `waterings` `[[ms, litres]]`, `rain` `{ from, to, mm }` (forecast) or null;
     * the x axis spans `from` to `to` (the end of the rain forecast when there is one).
     */
    set(points, waterings, rain, from, to) {
      const rows = new Map();
      const row = ms => rows.get(ms) ?? [null, null, null];
      for (const [ms, v] of points) rows.set(ms, [v, null, null]);
      for (const [ms, l] of waterings) { const r = row(ms); r[1] = l; rows.set(ms, r); }
      if (rain) {
        // A step from the forecast's start to its end: the bar's height is the rain over those days.
        const a = row(rain.from); a[2] = rain.mm; rows.set(rain.from, a);
        const b = row(rain.to); b[2] = 0; rows.set(rain.to, b);
      }
      const xs = [...rows.keys()].sort((a, b) => a - b);
      plot.setData([xs.map(x => x / 1000), ...[0, 1, 2].map(i => xs.map(x => rows.get(x)[i]))], false);
      plot.setScale("x", { min: from / 1000, max: Math.max(to, rain?.to ?? to) / 1000 });
    },
  };
}

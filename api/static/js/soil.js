// A tree's soil history (uPlot, vendored): one sensor's tension (kPa) or moisture (%) over the last 30 days
// as a line, the waterings logged as points on a litres axis, the rain that fell per day (the weather feed's
// observed rain, `/api/v1/trees/{id}/rain`) as solid bars, and the rain the feed forecasts for the next
// three days (the tree status's `outlook.rain_mm`) as a lighter, outlined step over those days, both on a mm
// axis. A day without observed rain has no bar (not known), a dry day a bar of 0 mm.

import { t, num, date } from "./i18n.js";

const ACCENT = "#0b5cad", WATER = "#067647", RAIN = "#5b8def", FELL = "#1d3f8f";
const width = node => Math.max(280, (node.clientWidth || node.parentElement?.clientWidth || 600) - 4);

/** The chart in `node`; `set(points, waterings, rain, from, to, observed)` replaces its data. */
export function soilChart(node, label, unit) {
  // The rain that fell: `[[fromMs, toMs, mm]]`, drawn as bars in the draw hook (bars a day wide, whatever
  // the spacing of the soil readings); series 4 carries the same values for the legend and the mm scale.
  let fell = [];
  const bars = u => {
    const ctx = u.ctx, { left, top, width: w, height: h } = u.bbox;
    ctx.save();
    ctx.beginPath(); ctx.rect(left, top, w, h); ctx.clip();
    ctx.fillStyle = FELL;
    const y0 = u.valToPos(0, "mm", true);
    for (const [a, b, mm] of fell) {
      const x0 = u.valToPos(a / 1000, "x", true), x1 = u.valToPos(b / 1000, "x", true);
      const y1 = u.valToPos(mm, "mm", true);
      ctx.fillRect(x0 + 1, y1, Math.max(1, x1 - x0 - 2), Math.max(1, y0 - y1));
    }
    ctx.restore();
  };
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
      { label: t("soil.rain"), scale: "mm", stroke: RAIN, fill: "rgba(91,141,239,.35)", width: 1, dash: [4, 3],
        paths: uPlot.paths.stepped({ align: 1 }), points: { show: false }, spanGaps: false,
        value: (u, v) => v === null ? "–" : num(v, 1) + " mm" },
      { label: t("soil.rainFell"), scale: "mm", stroke: FELL, fill: FELL, width: 0, paths: () => null,
        points: { show: false }, value: (u, v) => v === null ? "–" : num(v, 1) + " mm" }],
    hooks: { draw: [bars] },
  }, [[], [], [], [], []], node);
  new ResizeObserver(() => plot.setSize({ width: width(node), height: plot.height })).observe(node);
  return {
    plot,
    /**
     * `points` `[[ms, value]]`, `waterings` `[[ms, litres]]`, `rain` `{ from, to, mm }` (forecast) or null,
     * `observed` `[[fromMs, toMs, mm]]` (rain that fell per day; absent days unknown); the x axis spans `from` to
     * `to` (the end of the rain forecast when there is one).
     */
    set(points, waterings, rain, from, to, observed = []) {
      const rows = new Map();
      const row = ms => rows.get(ms) ?? [null, null, null, null];
      for (const [ms, v] of points) rows.set(ms, [v, null, null, null]);
      for (const [ms, l] of waterings) { const r = row(ms); r[1] = l; rows.set(ms, r); }
      if (rain) {
        // A step from the forecast's start to its end: the bar's height is the rain over those days.
        const a = row(rain.from); a[2] = rain.mm; rows.set(rain.from, a);
        const b = row(rain.to); b[2] = 0; rows.set(rain.to, b);
      }
      fell = observed.filter(([a, b]) => b > from && a < Math.max(to, rain?.to ?? to));
      for (const [a, b, mm] of fell) { const m = Math.max(a, from) + (Math.min(b, to) - Math.max(a, from)) / 2; const r = row(m); r[3] = mm; rows.set(m, r); }
      const xs = [...rows.keys()].sort((a, b) => a - b);
      plot.setData([xs.map(x => x / 1000), ...[0, 1, 2, 3].map(i => xs.map(x => rows.get(x)[i]))], false);
      plot.setScale("x", { min: from / 1000, max: Math.max(to, rain?.to ?? to) / 1000 });
    },
  };
}

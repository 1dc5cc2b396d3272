// Charts: a time line with zoom and pan and bars against a comparison (both uPlot, vendored), and a carpet
// plot (hour of day × day) on a canvas. Every chart sits in a <figure> with a caption and a table of its
// values as the text alternative; updates replace the data, not the chart.

import { el, patch } from "./util.js";
import { t, num, date, time } from "./i18n.js";


const ACCENT = "#0b5cad", GREY = "#98a2b3";
/** Decimals a tick step of `incr` needs: 0 for 5 kWh, 2 for 0.02 kWh (so small ticks are not all "0"). */
/** Bars start at zero (a bar's height is its value), with some room above the largest. */
const zeroBased = (u, min, max) => [Math.min(0, min ?? 0), max > 0 ? max * 1.1 : 1];
const tickDigits = incr => Math.max(0, Math.min(3, -Math.floor(Math.log10(incr || 1))));

/** A figure: caption, the chart, and a collapsed table of the values (the chart's text alternative). */
export function figure(id, caption, chart) {
  return el("figure", { class: "chart", "data-chart": id },
    el("figcaption", {}, caption), chart,
    el("details", { class: "alt" }, el("summary", {}, t("table")), el("div", { class: "alt-table", "data-alt": id })));
}

/** Fills the figure's text alternative with `rows` under `head`. */
export function altTable(fig, head, rows) {
  const box = fig.querySelector(".alt-table");
  const table = el("table", {}, el("thead", {}, el("tr", {}, head.map(h => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows.map(r => el("tr", {}, r.map(c => el("td", {}, c))))));
  box.replaceChildren(rows.length ? table : el("p", {}, t("noData")));
}

const width = node => Math.max(280, (node.clientWidth || node.parentElement?.clientWidth || 600) - 4);

function sized(plot, node) {
  new ResizeObserver(() => plot.setSize({ width: width(node), height: plot.height })).observe(node);
}

/**
 * A time line of `[[ms, value]]` with drag-to-zoom on x; `onZoom(fromMs, toMs)` is told when the user zooms
 * (to fetch finer data). Windows without data stay gaps.
 */
export function timeLine(node, label, unit, onZoom) {
  const fmt = v => v === null ? "–" : unit === "W" && Math.abs(v) >= 1000 ? num(v / 1000, 1) + " kW" : num(v, 0) + " " + unit;
  const plot = new uPlot({
    width: width(node), height: 240,
    scales: { x: { time: true } },
    // Axis labels in the user's locale: times within two days, else dates.
    axes: [{ values: (u, vs) => vs.map(v => v === null ? "" : (u.scales.x.max - u.scales.x.min) < 2 * 86400 ? time(v * 1000) : date(v * 1000, { day: "numeric", month: "short" })), space: 60 },
      { values: (u, vs) => vs.map(fmt), size: 70 }],
    series: [{ label: t("time"), value: (u, v) => v === null ? "–" : date(v * 1000, { dateStyle: "short", timeStyle: "short" }) },
      { label, stroke: ACCENT, width: 1.5, fill: "rgba(11,92,173,.08)", value: (u, v) => fmt(v), spanGaps: false }],
    cursor: { drag: { x: true, y: false } },
    hooks: { setSelect: [u => {
      if (u.select.width < 5) return;
      const a = u.posToVal(u.select.left, "x"), b = u.posToVal(u.select.left + u.select.width, "x");
      u.setSelect({ width: 0, height: 0 }, false);
      onZoom?.(a * 1000, b * 1000);
    }] },
  }, [[], []], node);
  sized(plot, node);
  return {
    plot,
    set(points, from, to) {
      // A gap longer than twice the usual step is drawn as a gap (null), never as a line across.
      const xs = [], ys = [];
      let step = Infinity;
      for (let i = 1; i < points.length; i++) step = Math.min(step, points[i][0] - points[i - 1][0]);
      for (let i = 0; i < points.length; i++) {
        if (i && points[i][0] - points[i - 1][0] > 2 * step) { xs.push((points[i - 1][0] + step) / 1000); ys.push(null); }
        xs.push(points[i][0] / 1000); ys.push(points[i][1]);
      }
      plot.setData([xs, ys], false);
      plot.setScale("x", { min: from / 1000, max: to / 1000 });
    },
  };
}

/** Bars of the current periods (dark) against the compared ones (grey); `labels` name the periods. */
export function compareBars(node, labels, unitLabel) {
  let names = labels;
  const bars = uPlot.paths.bars;
  const plot = new uPlot({
    width: width(node), height: 200,
    scales: { x: { time: false, range: (u, min, max) => [min - 0.5, max + 0.5] }, y: { range: zeroBased } },
    axes: [{ values: (u, vs) => vs.map(v => names[v] ?? ""), space: 60, gap: 4 }, { size: 60, values: (u, vs, _axis, _space, incr) => vs.map(v => num(v, tickDigits(incr))) }],
    series: [{ label: t("time"), value: (u, v) => names[v] ?? "" },
      { label: t("thisPeriod"), fill: ACCENT, stroke: ACCENT, paths: bars({ size: [0.4, 40], align: 1 }), points: { show: false }, value: (u, v) => v === null ? "–" : num(v, 1) + " " + unitLabel },
      { label: t("yearBefore"), fill: GREY, stroke: GREY, paths: bars({ size: [0.4, 40], align: -1 }), points: { show: false }, value: (u, v) => v === null ? "–" : num(v, 1) + " " + unitLabel }],
  }, [[], [], []], node);
  sized(plot, node);
  return {
    plot,
    set(newLabels, cur, prev) {
      names = newLabels;
      plot.setData([newLabels.map((_, i) => i), cur, prev]);
    },
  };
}

/** Bars of one series (a resident's hours or days). */
export function bars(node, unitLabel, digits = 2) {
  let names = [];
  const plot = new uPlot({
    width: width(node), height: 180,
    scales: { x: { time: false, range: (u, min, max) => [min - 0.5, max + 0.5] }, y: { range: zeroBased } },
    axes: [{ values: (u, vs) => vs.map(v => names[v] ?? ""), space: 30 },
      { size: 55, values: (u, vs, _axis, _space, incr) => vs.map(v => num(v, tickDigits(incr))) }],
    series: [{ value: (u, v) => names[v] ?? "" },
      { label: unitLabel, fill: ACCENT, stroke: ACCENT, paths: uPlot.paths.bars({ size: [0.7, 40] }), points: { show: false }, value: (u, v) => v === null ? "–" : num(v, digits) + " " + unitLabel }],
    legend: { show: false },
  }, [[], []], node);
  sized(plot, node);
  return { plot, set(labels, values) { names = labels; plot.setData([labels.map((_, i) => i), values]); } };
}

/**
 * Carpet plot: one column per day (oldest left), one row per hour (0 at the top), colour = mean power of that
 * hour; hours without data stay blank. Returns the night, weekend and working-hours means for the caption.
 */
export function carpet(canvas, points, days, legend) {
  const ctx = canvas.getContext("2d");
  const first = new Date(); first.setHours(0, 0, 0, 0); first.setDate(first.getDate() - days + 1);
  const cells = new Map();
  let max = 0;
  for (const [ms, v] of points) {
    const d = new Date(ms);
    const day = Math.round((new Date(d.getFullYear(), d.getMonth(), d.getDate()) - first) / 864e5);
    if (day < 0 || day >= days) continue;
    cells.set(day * 24 + d.getHours(), v);
    max = Math.max(max, v);
  }
  const W = canvas.width, H = canvas.height, left = 34, top = 4, bottom = 18;
  const cw = (W - left) / days, ch = (H - top - bottom) / 24;
  ctx.clearRect(0, 0, W, H);
  ctx.fillStyle = "#f2f4f7";
  ctx.fillRect(left, top, W - left, H - top - bottom);
  const colour = f => `hsl(${220 - 200 * f}, 75%, ${88 - 45 * f}%)`;
  const sums = { night: [0, 0], weekend: [0, 0], work: [0, 0] };
  for (const [k, v] of cells) {
    const day = Math.floor(k / 24), hour = k % 24;
    ctx.fillStyle = colour(max > 0 ? v / max : 0);
    ctx.fillRect(left + day * cw, top + hour * ch, Math.ceil(cw), Math.ceil(ch));
    const wd = new Date(first.getTime() + day * 864e5).getDay();
    const weekend = wd === 0 || wd === 6;
    const add = (s) => { s[0] += v; s[1] += 1; };
    if (hour < 5) add(sums.night);
    if (weekend) add(sums.weekend);
    else if (hour >= 8 && hour < 17) add(sums.work);
  }
  ctx.fillStyle = "#344054";
  ctx.font = "10px system-ui, sans-serif";
  for (const h of [0, 6, 12, 18]) ctx.fillText(String(h).padStart(2, "0") + ":00".slice(0, 0), 4, top + h * ch + 9);
  for (let d = 0; d < days; d += 7) ctx.fillText(date(first.getTime() + d * 864e5, { day: "numeric", month: "numeric" }), left + d * cw, H - 5);
  if (legend) {
    legend.replaceChildren(el("span", { class: "swatch", style: `background:${colour(0)}` }), " 0 ",
      el("span", { class: "swatch", style: `background:${colour(1)}` }), " " + num(max / 1000, 1) + " kW");
  }
  const mean = s => s[1] ? s[0] / s[1] : null;
  return { night: mean(sums.night), weekend: mean(sums.weekend), work: mean(sums.work), cells: cells.size, first };
}

/** Rows for a time line's text alternative: at most `n` evenly spaced points. */
export function sampleRows(points, n, fmt) {
  const step = Math.max(1, Math.ceil(points.length / n));
  return points.filter((_, i) => i % step === 0).map(([ms, v]) => [date(ms, { dateStyle: "short", timeStyle: "short" }), fmt(v)]);
}

export { patch, time };

/**
 * A tree's soil history: `[[ms, value]]` of one sensor as a line (tension in kPa or moisture in %), with the
 * waterings (`[[ms, litres]]`) marked as points on a litres axis of their own.
 */
export function soilChart(node, label, unit) {
  const plot = new uPlot({
    width: width(node), height: 220,
    scales: { x: { time: true }, L: { range: (u, lo, hi) => [0, Math.max(100, hi || 0) * 1.1] } },
    axes: [{ values: (u, vs) => vs.map(v => v === null ? "" : date(v * 1000, { day: "numeric", month: "short" })), space: 60 },
      { values: (u, vs) => vs.map(v => num(v, 0) + " " + unit), size: 70 },
      { scale: "L", side: 1, values: (u, vs) => vs.map(v => num(v, 0) + " L"), size: 60, grid: { show: false } }],
    series: [{ label: t("time"), value: (u, v) => v === null ? "–" : date(v * 1000, { dateStyle: "short", timeStyle: "short" }) },
      { label, stroke: ACCENT, width: 1.5, spanGaps: true, value: (u, v) => v === null ? "–" : num(v, 1) + " " + unit },
      { label: t("water.litres"), scale: "L", stroke: "#067647", fill: "#067647", width: 0, paths: () => null,
        points: { show: true, size: 10, fill: "#067647" }, value: (u, v) => v === null ? "–" : num(v, 0) + " L" }],
  }, [[], [], []], node);
  sized(plot, node);
  return {
    plot,
    set(points, waterings, from, to) {
      const rows = new Map();
      for (const [ms, v] of points) rows.set(ms, [v, null]);
      for (const [ms, l] of waterings) rows.set(ms, [rows.get(ms)?.[0] ?? null, l]);
      const xs = [...rows.keys()].sort((a, b) => a - b);
      plot.setData([xs.map(x => x / 1000), xs.map(x => rows.get(x)[0]), xs.map(x => rows.get(x)[1])], false);
      plot.setScale("x", { min: from / 1000, max: to / 1000 });
    },
  };
}

// A building's month-end forecast error, backtested on its own last up to 12 complete months
// (`GET /api/v1/sites/{id}/forecast/accuracy`): shown next to the month-end projection of the building view.

import { el, api, enc } from "./util.js";
import { t, num } from "./i18n.js";

/** The error as one line: "± 4,1 % am 1., ± 2,0 % am 10., ± 0,9 % am 20. (12 Monate …)", or why there is none. */
export function accuracyText(a) {
  if (!a.enough) return t("acc.notEnough", a.months);
  const days = a.days.filter(d => d.mape_pct !== null).map(d => t("acc.day", num(d.mape_pct, 1), d.day));
  const inside = a.days.reduce((n, d) => n + d.inside, 0), cases = a.days.reduce((n, d) => n + d.months, 0);
  return days.join(", ") + " " + t("acc.months", a.months, inside, cases);
}

/**
 * Adds the line "month-end forecast error (backtest)" right after the month-end projection (`[data-forecast-month]`)
 * in the building view's `box` (a `<dl>`), then fills it for `site`. Safe to call again: the line is kept and refilled.
 */
export async function accuracyLine(box, site) {
  let dd = box.querySelector("[data-accuracy]");
  if (!dd) {
    const after = box.querySelector("[data-forecast-month]");
    dd = el("dd", { "data-accuracy": site, "aria-live": "polite" }, "…");
    const dt = el("dt", {}, t("acc.title"));
    if (after) after.after(dt, dd); else box.append(dt, dd);
  }
  try {
    const a = await api(`/api/v1/sites/${enc(site)}/forecast/accuracy`);
    dd.textContent = accuracyText(a);
    dd.dataset.months = a.months;
    dd.dataset.enough = a.enough ? "1" : "0";
    const day10 = a.days.find(d => d.day === 10)?.mape_pct;
    if (day10 !== null && day10 !== undefined) dd.dataset.mape10 = day10.toFixed(3);
  } catch (e) {
    dd.textContent = t("acc.none");
  }
  return dd;
}

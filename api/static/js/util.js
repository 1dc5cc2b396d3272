// Shared helpers: DOM building, API calls with the token, site power sums and live-value patching.

/** `el("div", {class: "x"}, child, "text", …)`; attributes whose value is null or false are left out. */
export function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined && k !== false) e.append(k);
  return e;
}

export const state = {
  token: null,
  settings: { currency: "EUR", price_per_kwh: 0.35, timezone: "Europe/Berlin", tile_url: null, depot: null },
  sites: [],
  live: new Map(), // device id -> { ts, values: { quantity: { value, ts } } }
  onUnauthorized: () => {},
};

export async function api(path, opts = {}) {
  const r = await fetch(path, { ...opts, headers: { Authorization: "Bearer " + state.token, ...(opts.headers || {}) } });
  if (r.status === 401) { state.onUnauthorized(); throw new Error("401"); }
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.status === 204 ? null : r.json();
}

export const enc = encodeURIComponent;

/** The devices whose power makes up a site's power: its main meters, else every device that measures it. */
export function powerDevices(site) {
  const mains = site.devices.filter(d => d.class === "main_meter");
  if (mains.length) return mains;
  const measured = site.devices.filter(d => state.live.get(d.id)?.values?.active_power !== undefined);
  return measured.length ? measured : site.devices.filter(d => d.class !== "soil_sensor" && d.source !== "ttn");
}

/** A site's live power (W): the sum over its power devices that report it; null when none does. */
export function sitePower(site) {
  let sum = null;
  for (const d of powerDevices(site)) {
    const v = state.live.get(d.id)?.values?.active_power;
    if (v !== undefined) sum = (sum ?? 0) + v.value;
  }
  return sum;
}

/**
 * Sums several devices' history into one series: a window counts only if every device has a value in it,
 * so a gap stays a gap, never a dip. Returns [[ms, value]] sorted by time.
 */
export function sumSeries(histories) {
  histories = histories.filter(h => h.points.length); // a device without any power history does not measure it
  const sum = new Map();
  for (const h of histories) for (const p of h.points) {
    const t = Date.parse(p.ts), cur = sum.get(t) || [0, 0];
    sum.set(t, [cur[0] + p.value, cur[1] + 1]);
  }
  return [...sum].filter(([, [, n]]) => n === histories.length).map(([t, [v]]) => [t, v]).sort((a, b) => a[0] - b[0]);
}

/** The summed power history of a site's power devices. */
export async function siteHistory(site, from, to, windowSec, agg = "mean") {
  const ids = powerDevices(site).map(d => d.id);
  if (!ids.length) return [];
  const q = `quantity=active_power&window=${windowSec}s&agg=${agg}&from=${enc(new Date(from).toISOString())}&to=${enc(new Date(to).toISOString())}`;
  const all = await Promise.all(ids.map(id => api(`/api/v1/devices/${enc(id)}/history?${q}`).catch(() => ({ points: [] }))));
  return sumSeries(all);
}

/** Local midnight today (browser time zone) as a Date. */
export function midnight(d = new Date()) {
  const m = new Date(d);
  m.setHours(0, 0, 0, 0);
  return m;
}

/** Sets `text` on every element matching `selector` whose text differs: patching, never rebuilding. */
export function patch(selector, text, root = document) {
  for (const e of root.querySelectorAll(selector)) if (e.textContent !== text) e.textContent = text;
}

/** Says `text` through the page's polite live region (screen readers). */
export function announce(text) {
  const a = document.getElementById("announce");
  if (a) a.textContent = text;
}

export function download(name, type, text) {
  const a = el("a", { href: URL.createObjectURL(new Blob([text], { type })), download: name });
  document.body.append(a);
  a.click();
  a.remove();
}

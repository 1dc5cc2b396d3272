// The watering route: nearest neighbour from a start point, distances on the sphere, and the CSV and GPX
// exports. Pure functions of their inputs, no DOM.

/** Great-circle distance in km between two `{lat, lon}`. */
export function km(a, b) {
  const r = Math.PI / 180, dLat = (b.lat - a.lat) * r, dLon = (b.lon - a.lon) * r;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * r) * Math.cos(b.lat * r) * Math.sin(dLon / 2) ** 2;
  return 12742 * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * Orders `stops` (each with `lat`, `lon`) as a nearest-neighbour route from `start` (or from the first stop
 * when `start` is null); returns the stops with `leg_km` (from the previous stop) and the total.
 */
export function nearestNeighbour(stops, start) {
  const left = [...stops], out = [];
  let here = start || left[0], total = 0;
  while (left.length) {
    let best = 0;
    for (let i = 1; i < left.length; i++) if (km(here, left[i]) < km(here, left[best])) best = i;
    const next = left.splice(best, 1)[0], leg = km(here, next);
    total += leg;
    out.push({ ...next, leg_km: leg });
    here = next;
  }
  return { stops: out, total_km: total };
}

const csvCell = v => {
  const s = v === null || v === undefined ? "" : String(v);
  return /[";\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
};

/** CSV with `;` separators (what German spreadsheets open directly), one row per stop. */
export function csv(stops, head, row) {
  return [head, ...stops.map(row)].map(r => r.map(csvCell).join(";")).join("\r\n") + "\r\n";
}

const xml = s => String(s).replace(/[<>&"']/g, c => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]);

/** GPX 1.1 with a waypoint per stop and the route through them in order. */
export function gpx(stops, name, label) {
  const pt = (tag, s, i) => `<${tag} lat="${s.lat}" lon="${s.lon}"><name>${xml((i + 1) + " " + s.tree)}</name><desc>${xml(label(s))}</desc></${tag}>`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="Zählwerk" xmlns="http://www.topografix.com/GPX/1/1">\n`
    + stops.map((s, i) => pt("wpt", s, i)).join("\n")
    + `\n<rte><name>${xml(name)}</name>\n` + stops.map((s, i) => pt("rtept", s, i)).join("\n") + "\n</rte>\n</gpx>\n";
}

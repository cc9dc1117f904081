// An area's vertices typed as lines of two numbers: WGS84 lon, lat degrees or HK1980
// Grid easting, northing metres. Only reading the numbers: the server turns grid
// positions into WGS84 (pyproj), the page does no datum maths. A line copied from
// the map's position readout works too, in either system: "22.260600° N,
// 114.128900° E" (latitude first, told by its letters) or "HK1980 E 831323.2 N 813533.6".

export const WGS84 = "wgs84";
export const HK1980 = "hk1980";

const NUMBER = String.raw`[-+]?(?:\d+(?:\.\d*)?|\.\d+)`;
/** Degrees with an optional ° and hemisphere letter after them (the readout's form). */
const DEGREES = new RegExp(String.raw`(${NUMBER})\s*°?\s*([NSEW])?`, "gi");
/** Metres with an optional E or N before them (the readout's form). */
const METRES = new RegExp(String.raw`([EN])?\s*(${NUMBER})`, "gi");

/** Return [x, y] of one line, in the system's order (lon, lat / easting, northing), or null. */
function readLine(line, system) {
  const text = line.replace(/\bHK1980\b/gi, " ").trim();
  const found =
    system === HK1980
      ? [...text.matchAll(METRES)].map((m) => ({ value: Number(m[2]), label: (m[1] || "").toUpperCase() }))
      : [...text.matchAll(DEGREES)].map((m) => ({ value: Number(m[1]), label: (m[2] || "").toUpperCase() }));
  // Nothing but the numbers, blanks, commas, semicolons and their labels may be on the line.
  const rest = text.replace(system === HK1980 ? METRES : DEGREES, "").replace(/[\s,;]/g, "");
  if (found.length !== 2 || rest || !found.every((f) => Number.isFinite(f.value))) return null;
  const [a, b] = found;
  if (!a.label && !b.label) return [a.value, b.value];
  const xLabels = system === HK1980 ? ["E"] : ["E", "W"];
  const x = [a, b].find((f) => xLabels.includes(f.label));
  const y = [a, b].find((f) => f !== x);
  if (!x || (y.label && xLabels.includes(y.label))) return null;
  const sign = (f) => (f.label === "S" || f.label === "W" ? -Math.abs(f.value) : f.value);
  return [sign(x), sign(y)];
}

/**
 * Return {ring} (a closed GeoJSON ring, the first position repeated at the end) for
 * `text`, one vertex per line in `system` (WGS84 or HK1980); blank lines are skipped.
 * Or {error: "line", line, text} for the first line that is not two numbers, or
 * {error: "too_few"} for fewer than three distinct vertices.
 */
export function parseVertices(text, system) {
  const ring = [];
  const lines = String(text).split(/\r?\n/);
  for (let i = 0; i < lines.length; i += 1) {
    if (!lines[i].trim()) continue;
    const position = readLine(lines[i], system);
    if (!position) return { error: "line", line: i + 1, text: lines[i].trim() };
    ring.push(position);
  }
  const same = (p, q) => p[0] === q[0] && p[1] === q[1];
  if (ring.length > 1 && same(ring[0], ring[ring.length - 1])) ring.pop();
  const distinct = ring.filter((p, i) => !ring.slice(0, i).some((q) => same(p, q)));
  if (distinct.length < 3) return { error: "too_few" };
  return { ring: [...ring, ring[0]] };
}

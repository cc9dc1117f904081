// Positions in WGS84 degrees or the Hong Kong 1980 Grid (EPSG:2326), heights in m AMSL
// and mPD, for the map's cursor readout and the drone panel. Works offline: the
// server sends a quadratic fit of the grid around the site (GET /api/v1/sites/{id},
// member `display`, see web/site_display.py) and the site's mPD offset with its label.
/* global L */

import { onLanguageChange, t } from "./i18n.js";

const STORAGE_KEY = "skyberth.coordinates";
export const WGS84 = "wgs84";
export const HK1980 = "hk1980";

/** The words of each way a site gets mPD (MpdMethod in airspace/hk_grid.py). */
const MPD_WORDS = { approximate: "grid.mpd_approximate", surveyed: "grid.mpd_surveyed", "geoid grid": "grid.mpd_geoid_grid" };

const fixed = (x, digits) => (typeof x === "number" && Number.isFinite(x) ? x.toFixed(digits) : "–");

/** Easting/northing (m) from the server's fit: terms 1, x, y, x², xy, y² in degrees. */
export function gridFromFit(fit, lon, lat) {
  const x = lon - fit.ref_lon_deg;
  const y = lat - fit.ref_lat_deg;
  const terms = [1, x, y, x * x, x * y, y * y];
  const sum = (coeffs) => coeffs.reduce((acc, c, i) => acc + c * terms[i], 0);
  return [sum(fit.easting_terms), sum(fit.northing_terms)];
}

/** The user's choice of WGS84 or HK1980, kept across pages and visits. */
export class CoordinateFormat {
  constructor() {
    this.display = { hk1980: null, mpd: null };
    this.listeners = [];
    let saved = null;
    try {
      saved = localStorage.getItem(STORAGE_KEY);
    } catch {
      saved = null; // storage blocked: the choice lasts for this page only
    }
    this.mode = saved === HK1980 ? HK1980 : WGS84;
  }

  /** Take the site's `display` member; HK1980 is only offered where it has a fit. */
  setDisplay(display) {
    this.display = display || { hk1980: null, mpd: null };
    this.#changed();
  }

  get gridAvailable() {
    return Boolean(this.display.hk1980);
  }

  get effectiveMode() {
    return this.mode === HK1980 && this.gridAvailable ? HK1980 : WGS84;
  }

  toggle() {
    this.mode = this.effectiveMode === HK1980 ? WGS84 : HK1980;
    try {
      localStorage.setItem(STORAGE_KEY, this.mode);
    } catch {
      // storage blocked: keep the choice for this page
    }
    this.#changed();
  }

  onChange(listener) {
    this.listeners.push(listener);
  }

  #changed() {
    for (const listener of this.listeners) listener(this);
  }

  /** "22.260600° N, 114.128900° E" or "HK1980 E 831323.2 N 813533.6". */
  position(lon, lat) {
    if (!Number.isFinite(lon) || !Number.isFinite(lat)) return "–";
    if (this.effectiveMode === HK1980) {
      const [e, n] = gridFromFit(this.display.hk1980, lon, lat);
      return `HK1980 E ${fixed(e, 1)} N ${fixed(n, 1)}`;
    }
    const ns = lat >= 0 ? "N" : "S";
    const ew = lon >= 0 ? "E" : "W";
    return `${fixed(Math.abs(lat), 6)}° ${ns}, ${fixed(Math.abs(lon), 6)}° ${ew}`;
  }

  /**
   * "12.3 mPD approx. (...)" for a height in m AMSL, or null without a reference.
   * The reference is said in the page language from its method (the server's
   * `label` is English; it stays for a method this page does not know).
   */
  mpd(altAmslM) {
    const ref = this.display.mpd;
    if (!ref || typeof ref.offset_m !== "number" || typeof altAmslM !== "number") return null;
    const height = fixed(altAmslM + ref.offset_m, 1);
    const key = MPD_WORDS[ref.method];
    if (!key) return `${height} ${ref.label}`;
    const offset = `${ref.offset_m >= 0 ? "+" : ""}${Number(ref.offset_m.toFixed(3))}`;
    return t(key, { height, offset, benchmark: ref.benchmark || "?", grid: ref.grid || "?" });
  }
}

/** A map control: the cursor's position in the chosen system, and the toggle. */
export function cursorReadout(map, format) {
  const control = L.control({ position: "bottomleft" });
  let last = null;
  let text;
  let button;
  const render = () => {
    text.textContent = last ? format.position(last.lng, last.lat) : t("grid.move_over_map");
    button.hidden = !format.gridAvailable;
    button.textContent = t(format.effectiveMode === HK1980 ? "grid.show_wgs84" : "grid.show_hk1980");
    button.setAttribute("aria-pressed", String(format.effectiveMode === HK1980));
  };
  control.onAdd = () => {
    const box = L.DomUtil.create("div", "cursor-readout leaflet-bar");
    box.id = "cursor-readout";
    text = L.DomUtil.create("span", "cursor-position", box);
    text.setAttribute("aria-live", "off");
    button = L.DomUtil.create("button", "coordinate-toggle", box);
    button.type = "button";
    button.id = "coordinate-toggle";
    L.DomEvent.disableClickPropagation(box);
    // Moving onto the control must not read out the map position under it.
    L.DomEvent.on(box, "mousemove", L.DomEvent.stopPropagation);
    button.addEventListener("click", () => format.toggle());
    render();
    return box;
  };
  control.addTo(map);
  map.on("mousemove", (e) => {
    last = e.latlng;
    render();
  });
  format.onChange(render);
  onLanguageChange(render);
  return control;
}

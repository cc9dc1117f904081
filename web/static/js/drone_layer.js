// Drones on the live map: one heading-rotated marker with a label per vehicle, a
// short trail, colour by conformance state. Frames arrive up to every 20 ms; they
// only update plain objects, and the DOM is touched once per animation frame for
// the vehicles that changed (markers are moved in place, never re-created).
/* global L */

import { t } from "./i18n.js";

const LABEL_EVERY_MS = 250; // label text at 4 Hz per drone: readable, and cheap
const TRAIL_EVERY_MS = 500;
const TRAIL_POINTS = 40; // 20 s of trail
const TRAIL_MIN_MOVE_DEG = 0.000002; // ~0.2 m: a hovering drone adds no points

/** The colour of each conformance state; its words are `drone.state.<state>`. */
export const STATE_INFO = {
  inside: { colour: "#1a9850" },
  near_edge: { colour: "#e08e00" },
  outside_vertical: { colour: "#d7191c" },
  outside_lateral: { colour: "#d7191c" },
  outside_boundary: { colour: "#d7191c" },
  in_exclusion: { colour: "#d7191c" },
  unassigned: { colour: "#7b3fa0" },
  on_ground: { colour: "#6b7785" },
  link_lost: { colour: "#3b4654" },
};
const UNKNOWN = { colour: "#2c7fb8" };
const RELABEL = Symbol("relabel"); // a state no vehicle has: its words are drawn again

/** Return a conformance state's colour and its words in the page language. */
export function stateInfo(state) {
  const known = Object.hasOwn(STATE_INFO, state ?? "");
  return { colour: (known ? STATE_INFO[state] : UNKNOWN).colour, text: t(`drone.state.${known ? state : "unknown"}`) };
}

export function droneName(v) {
  return v.drone_name || v.drone_id || t("incidents.sysid", { sysid: v.sysid ?? "?" });
}

const num = (v, digits = 1) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "–");

/** Return the link age in seconds now: the server's age plus time since receipt. */
export function linkAgeS(entry, nowMs) {
  const base = typeof entry.v.link_age_s === "number" ? entry.v.link_age_s : 0;
  return base + Math.max(0, nowMs - entry.receivedMs) / 1000;
}

/** Return the label's second line, units included. */
export function labelLine(v, ageS) {
  const alt = typeof v.rel_alt_m === "number" ? v.rel_alt_m : v.alt_amsl_m;
  const battery = typeof v.battery_pct === "number" ? `${Math.round(v.battery_pct)} %` : "– %";
  return `${num(alt)} m · ${num(v.speed_mps)} m/s · ${battery} · ${num(ageS)} s`;
}

const ICON_HTML =
  '<div class="drone"><svg class="drone-arrow" viewBox="-12 -12 24 24" aria-hidden="true">' +
  '<path d="M0,-10 L7,8 L0,4 L-7,8 Z"/></svg>' +
  '<div class="drone-label"><b></b><span></span></div></div>';

export class DroneLayer {
  /** onSelect(key) is called when a marker is clicked or activated by keyboard. */
  constructor(map, { onSelect } = {}) {
    this.map = map;
    this.onSelect = onSelect || (() => {});
    this.entries = new Map(); // key -> entry
    this.dirty = new Set();
    this.frameRequested = false;
    this.selectedKey = null;
    this.trailRenderer = L.canvas({ padding: 0.2 });
    this.trails = L.layerGroup().addTo(map);
    this.markers = L.layerGroup().addTo(map);
    this.flushes = 0;
    this.lastFlushMs = 0;
    setInterval(() => this.#refreshAges(), 1000);
  }

  get size() {
    return this.entries.size;
  }

  /** Take one vehicle from a frame; drawn at the next animation frame. */
  upsert(v, receivedMs = performance.now()) {
    if (!v || typeof v.key !== "string" || !Number.isFinite(v.lat_deg) || !Number.isFinite(v.lon_deg)) {
      return false;
    }
    let entry = this.entries.get(v.key);
    if (!entry) {
      entry = { key: v.key, v, receivedMs, marker: null, trail: null, points: [], lastTrailMs: 0, lastLabelMs: -Infinity, state: null, labelText: "" };
      this.entries.set(v.key, entry);
    }
    // A motion row carries only the fields telemetry changes; the rest stay.
    entry.v = entry.v === v ? v : { ...entry.v, ...v };
    entry.receivedMs = receivedMs;
    this.dirty.add(v.key);
    this.#requestFrame();
    return true;
  }

  /** Make the drawn vehicles exactly `vehicles` (a snapshot). */
  replaceAll(vehicles, receivedMs = performance.now()) {
    const keep = new Set();
    for (const v of vehicles) if (this.upsert(v, receivedMs)) keep.add(v.key);
    for (const key of [...this.entries.keys()]) if (!keep.has(key)) this.remove(key);
  }

  remove(key) {
    const entry = this.entries.get(key);
    if (!entry) return;
    if (entry.marker) this.markers.removeLayer(entry.marker);
    if (entry.trail) this.trails.removeLayer(entry.trail);
    this.entries.delete(key);
    this.dirty.delete(key);
    if (this.selectedKey === key) this.selectedKey = null;
  }

  get(key) {
    return this.entries.get(key) || null;
  }

  /** Write every marker's words again (the page language changed). */
  relabel() {
    for (const entry of this.entries.values()) {
      entry.state = RELABEL;
      this.dirty.add(entry.key);
    }
    this.#requestFrame();
  }

  /** Mark one vehicle as selected (its marker grows, its trail thickens). */
  select(key) {
    const previous = this.entries.get(this.selectedKey);
    previous?.root?.classList.remove("selected");
    previous?.trail?.setStyle({ weight: 2 });
    previous?.marker?.setZIndexOffset(0);
    this.selectedKey = key;
    const entry = this.entries.get(key);
    entry?.root?.classList.add("selected");
    entry?.trail?.setStyle({ weight: 4 });
    entry?.marker?.setZIndexOffset(10_000); // above the crowd
  }

  #requestFrame() {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame((ms) => this.#flush(ms));
  }

  #flush(nowMs) {
    this.frameRequested = false;
    this.flushes += 1;
    this.lastFlushMs = nowMs;
    for (const key of this.dirty) {
      const entry = this.entries.get(key);
      if (entry) this.#draw(entry, nowMs);
    }
    this.dirty.clear();
  }

  #draw(entry, nowMs) {
    const v = entry.v;
    const latlng = [v.lat_deg, v.lon_deg];
    if (!entry.marker) this.#create(entry, latlng);
    else entry.marker.setLatLng(latlng);
    if (typeof v.heading_deg === "number") {
      entry.arrow.style.transform = `rotate(${v.heading_deg}deg)`;
    }
    if (v.state !== entry.state) {
      const info = stateInfo(v.state);
      entry.root.className = `drone state-${v.state || "unknown"}${this.selectedKey === entry.key ? " selected" : ""}`;
      entry.root.style.setProperty("--drone-colour", info.colour);
      entry.trail.setStyle({ color: info.colour });
      entry.icon.title = `${droneName(v)}: ${info.text}`;
      entry.state = v.state;
      entry.lastLabelMs = -Infinity; // show the new state's numbers at once
    }
    if (nowMs - entry.lastLabelMs >= LABEL_EVERY_MS) this.#label(entry, nowMs);
    this.#extendTrail(entry, latlng, nowMs);
  }

  #create(entry, latlng) {
    const icon = L.divIcon({ className: "drone-icon", html: ICON_HTML, iconSize: null });
    entry.marker = L.marker(latlng, { icon, keyboard: true, riseOnHover: true, title: droneName(entry.v) });
    entry.marker.on("click", () => this.onSelect(entry.key));
    entry.trail = L.polyline([], {
      renderer: this.trailRenderer,
      weight: 2,
      opacity: 0.7,
      interactive: false,
    });
    this.trails.addLayer(entry.trail);
    this.markers.addLayer(entry.marker);
    const root = entry.marker.getElement();
    entry.icon = root;
    entry.root = root.firstElementChild;
    entry.arrow = entry.root.firstElementChild;
    entry.nameEl = entry.root.querySelector(".drone-label b");
    entry.lineEl = entry.root.querySelector(".drone-label span");
    root.dataset.key = entry.key;
    root.setAttribute("aria-label", droneName(entry.v));
  }

  #label(entry, nowMs) {
    const v = entry.v;
    entry.lastLabelMs = nowMs;
    const name = droneName(v);
    if (entry.nameEl.textContent !== name) entry.nameEl.textContent = name;
    const line = labelLine(v, linkAgeS(entry, performance.now()));
    if (line !== entry.labelText) {
      entry.lineEl.textContent = line;
      entry.labelText = line;
    }
  }

  #extendTrail(entry, latlng, nowMs) {
    const last = entry.points[entry.points.length - 1];
    const moved = !last || Math.abs(last[0] - latlng[0]) + Math.abs(last[1] - latlng[1]) > TRAIL_MIN_MOVE_DEG;
    if (!moved || nowMs - entry.lastTrailMs < TRAIL_EVERY_MS) return;
    entry.lastTrailMs = nowMs;
    entry.points.push(latlng);
    if (entry.points.length > TRAIL_POINTS) entry.points.shift();
    entry.trail.setLatLngs(entry.points);
  }

  /** Link ages grow while no frame comes: refresh every label once a second. */
  #refreshAges() {
    const now = performance.now();
    for (const entry of this.entries.values()) {
      if (entry.marker && now - entry.receivedMs > 900) this.#label(entry, now);
    }
  }
}

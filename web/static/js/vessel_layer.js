// Vessels from AIS on the live map: a ship marker rotated by heading (course when
// the heading is not available) with name and speed, a short trail, and a CPA line
// from a drone to the vessel of its latest vessel_proximity warning. One Leaflet
// layer group the user can switch off; every role sees it (a vessel is a hazard to all).
/* global L */

import { t } from "./i18n.js";

const CPA_LINE_MS = 30000; // a warning's line stays this long unless renewed

const SHIP_HTML =
  '<div class="vessel"><svg class="vessel-hull" viewBox="-8 -14 16 28" aria-hidden="true">' +
  '<path d="M0,-13 L6,-4 L6,12 L-6,12 L-6,-4 Z"/></svg>' +
  '<div class="vessel-label"><b></b><span></span></div></div>';

const num = (v, digits = 1) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "–");

export function vesselName(v) {
  return v.name || `MMSI ${v.mmsi}`;
}

export class VesselLayer {
  constructor(map) {
    this.map = map;
    this.group = L.layerGroup().addTo(map);
    this.entries = new Map(); // mmsi -> { v, marker, trail }
    this.cpaLines = new Map(); // vehicle key -> { line, untilMs }
  }

  /** Replace every vessel (a snapshot). */
  replaceAll(vessels) {
    for (const mmsi of [...this.entries.keys()]) this.remove(mmsi);
    for (const v of vessels) this.upsert(v);
  }

  /** Apply a `vessels` frame: whole records, and the MMSIs gone stale. */
  apply(frame) {
    for (const v of frame.vessels || []) this.upsert(v);
    for (const mmsi of frame.gone || []) this.remove(mmsi);
  }

  upsert(v) {
    if (typeof v.lat_deg !== "number" || typeof v.lon_deg !== "number") return;
    let entry = this.entries.get(v.mmsi);
    const at = [v.lat_deg, v.lon_deg];
    if (!entry) {
      const icon = L.divIcon({ className: "vessel-icon", html: SHIP_HTML, iconSize: [16, 28] });
      const marker = L.marker(at, { icon, keyboard: false, title: vesselName(v) });
      const trail = L.polyline([], { className: "vessel-trail", weight: 2, opacity: 0.6 });
      trail.addTo(this.group);
      marker.addTo(this.group);
      entry = { v, marker, trail };
      // Leaflet rebuilds the icon's element each time the layer is shown again.
      marker.on("add", () => this.#style(entry));
      this.entries.set(v.mmsi, entry);
    }
    entry.v = v;
    entry.marker.setLatLng(at);
    entry.trail.setLatLngs((v.trail || []).map(([lon, lat]) => [lat, lon]));
    this.#style(entry);
  }

  #style(entry) {
    const el = entry.marker.getElement();
    if (!el) return;
    const v = entry.v;
    const rotation = typeof v.heading_deg === "number" ? v.heading_deg : v.cog_deg ?? 0;
    el.querySelector(".vessel-hull").style.transform = `rotate(${rotation}deg)`;
    el.querySelector(".vessel-label b").textContent = vesselName(v);
    el.querySelector(".vessel-label span").textContent = `${num(v.sog_kn)} kn`;
    el.dataset.mmsi = String(v.mmsi);
    el.classList.toggle("vessel-aton", Boolean(v.aton));
  }

  remove(mmsi) {
    const entry = this.entries.get(mmsi);
    if (!entry) return;
    this.group.removeLayer(entry.marker);
    this.group.removeLayer(entry.trail);
    this.entries.delete(mmsi);
  }

  /** Draw (or move) the CPA line of a vessel_proximity event from drone to vessel. */
  showCpa(event, droneLatLng, nowMs) {
    const entry = this.entries.get(event.details?.mmsi);
    if (!entry || !droneLatLng) return;
    const vessel = [entry.v.lat_deg, entry.v.lon_deg];
    let cpa = this.cpaLines.get(event.vehicle_key);
    if (!cpa) {
      const line = L.polyline([droneLatLng, vessel], { className: "vessel-cpa", weight: 2, dashArray: "6 4" });
      line.addTo(this.group);
      cpa = { line, untilMs: 0 };
      this.cpaLines.set(event.vehicle_key, cpa);
    }
    cpa.line.setLatLngs([droneLatLng, vessel]);
    cpa.line.bindTooltip(t("vessel.cpa", { dcpa: num(event.details.dcpa_m, 0), tcpa: num(event.details.tcpa_s, 0) }));
    cpa.untilMs = nowMs + CPA_LINE_MS;
  }

  /** Drop CPA lines whose warning is older than CPA_LINE_MS. */
  expireCpa(nowMs) {
    for (const [key, cpa] of this.cpaLines) {
      if (nowMs > cpa.untilMs) {
        this.group.removeLayer(cpa.line);
        this.cpaLines.delete(key);
      }
    }
  }

  /** Show or hide the whole layer (the legend's toggle). */
  setVisible(visible) {
    if (visible) this.group.addTo(this.map);
    else this.group.remove();
  }
}

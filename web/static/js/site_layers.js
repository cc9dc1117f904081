// The site's own features on the map: boundary, corridors (with altitude bands),
// pads, exclusion zones and closures, from GET /api/v1/sites/{id} (GeoJSON, lon/lat).
// These always render, with or without any base map.
/* global L */

import { onLanguageChange, t } from "./i18n.js";
import { el } from "./session.js";
import { spanLabel, utcSpanLabel } from "./time.js";

const PAD_RADIUS_M = 12;

const STYLE = {
  boundary: { color: "#1f2d3d", weight: 2, dashArray: "6 6", fill: false, interactive: false },
  corridor: { color: "#1769aa", weight: 2, fillColor: "#2b8cd6", fillOpacity: 0.16 },
  corridorHighlight: { color: "#f5b000", weight: 4, fillColor: "#ffd34d", fillOpacity: 0.32 },
  pad: { color: "#0b3d2e", weight: 2, fillColor: "#2fbf71", fillOpacity: 0.85 },
  exclusion: { color: "#b3261e", weight: 2, fillColor: "#e0483e", fillOpacity: 0.22, dashArray: "2 4" },
  closure: { color: "#8a1c00", weight: 3, fillColor: "#ff6a00", fillOpacity: 0.35, dashArray: "8 4" },
};

/** Return "20–60 m AGL" for a feature's altitude band, or null when it has none. */
export function bandLabel(props) {
  if (props.floor_m === undefined || props.floor_m === null) return null;
  return `${fmt(props.floor_m)}–${fmt(props.ceiling_m)} m ${props.alt_ref || "AGL"}`;
}

const fmt = (v) => (Number.isInteger(v) ? String(v) : Number(v).toFixed(1));

const lonLatToLatLngs = (ring) => ring.map(([lon, lat]) => [lat, lon]);

/**
 * Return the Leaflet rings of a corridor feature: the engine's outline the server
 * sends in `props.outline` (lon/lat GeoJSON), or the feature's own polygon. A
 * centre line without an outline is not drawn: a browser-side buffer (flat earth,
 * square ends) would show a corridor other than the one enforced.
 */
export function corridorLatLngs(props, geometry) {
  return polygonLatLngs(props.outline || geometry);
}

function polygonLatLngs(geometry) {
  if (geometry.type === "Polygon") return geometry.coordinates.map(lonLatToLatLngs);
  if (geometry.type === "MultiPolygon") {
    return geometry.coordinates.map((poly) => poly.map(lonLatToLatLngs));
  }
  return null;
}

/** Tooltip content as text: Leaflet puts a string in as HTML, and ids, names and
 * closure reasons are free text typed by users or site files. */
function text(value) {
  return el("span", {}, value);
}

function popup(title, rows) {
  return el(
    "div",
    { class: "feature-popup" },
    el("strong", {}, title),
    el("dl", {}, rows.filter(([, v]) => v !== null && v !== undefined && v !== "").map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
  );
}

export class SiteLayers {
  /** Draw on `map`; `timeZone` is the site's, for closure windows. */
  constructor(map) {
    this.map = map;
    this.group = L.layerGroup().addTo(map);
    this.closures = L.layerGroup().addTo(map);
    this.corridors = new Map(); // corridor id -> {layer, props}
    this.pads = new Map(); // pad id -> {layer, props}
    this.highlighted = null;
    this.site = null;
    this.bounds = null;
  }

  /** Replace everything with the features of `collection` (the site GeoJSON). */
  draw(collection) {
    this.group.clearLayers();
    this.closures.clearLayers();
    this.corridors.clear();
    this.pads.clear();
    this.highlighted = null;
    const all = [];
    const order = { boundary: 0, exclusion: 1, corridor: 2, closure: 3, pad: 4, site: 5 };
    const features = [...collection.features].sort(
      (a, b) => (order[a.properties.kind] ?? 9) - (order[b.properties.kind] ?? 9),
    );
    this.site = features.find((f) => f.properties.kind === "site")?.properties || null;
    for (const feature of features) {
      const layer = this.#layerFor(feature);
      if (!layer) continue;
      (feature.properties.kind === "closure" ? this.closures : this.group).addLayer(layer);
      if (feature.properties.kind !== "site") all.push(layer);
    }
    const boundary = features.find((f) => f.properties.kind === "boundary");
    const fitTo = boundary ? this.#layerFor(boundary) : L.featureGroup(all);
    this.bounds = fitTo.getBounds ? fitTo.getBounds() : null;
    return this;
  }

  /** Zoom to the pier: the pads and the short corridors, not the long routes. */
  pierBounds() {
    const pads = [...this.pads.values()].map((p) => p.layer.getLatLng());
    if (!pads.length) return this.bounds;
    return L.latLngBounds(pads).pad(6);
  }

  /** Outline one corridor (null: none) the way a selected drone's booking is shown. */
  highlightCorridor(corridorId) {
    if (this.highlighted) {
      this.highlighted.layer.setStyle(STYLE.corridor);
      this.highlighted.layer.getElement()?.classList.remove("corridor-highlight");
    }
    this.highlighted = corridorId ? this.corridors.get(corridorId) || null : null;
    if (this.highlighted) {
      this.highlighted.layer.setStyle(STYLE.corridorHighlight);
      this.highlighted.layer.bringToFront();
      this.highlighted.layer.getElement()?.classList.add("corridor-highlight");
    }
  }

  #layerFor(feature) {
    const p = feature.properties;
    const g = feature.geometry;
    switch (p.kind) {
      case "boundary": {
        const latlngs = polygonLatLngs(g);
        return latlngs && L.polygon(latlngs, STYLE.boundary);
      }
      case "corridor":
        return this.#corridor(p, g);
      case "pad":
        return this.#pad(p, g);
      case "exclusion": {
        const latlngs = polygonLatLngs(g);
        if (!latlngs) return null;
        const band = bandLabel(p) || t("layers.all_altitudes");
        return L.polygon(latlngs, { ...STYLE.exclusion, className: "exclusion" })
          .bindTooltip(text(t("layers.exclusion_label", { id: p.id, band })), { sticky: true })
          .bindPopup(popup(t("layers.exclusion_title", { id: p.id, name: p.name || "" }), [[t("layers.altitudes"), band]]));
      }
      case "closure":
        return this.#closure(p, g);
      default:
        return null;
    }
  }

  #corridor(p, g) {
    // The server sends the engine's own outline (round caps and joins in the
    // site's metric CRS) for centre-line corridors: drawn as is, never re-buffered.
    const latlngs = corridorLatLngs(p, g);
    if (!latlngs) return null;
    const band = bandLabel(p);
    const layer = L.polygon(latlngs, { ...STYLE.corridor, className: `corridor corridor-${p.id}` });
    layer.bindTooltip(text(`${p.id} · ${band}`), {
      permanent: true,
      direction: "center",
      className: "feature-label corridor-label",
    });
    layer.bindPopup(
      popup(t("layers.corridor_title", { id: p.id, name: p.name || "" }), [
        [t("layers.altitude_band"), band],
        [t("layers.capacity"), t("layers.drones_at_once", { count: p.capacity })],
        [t("layers.width"), p.half_width_m ? `${2 * p.half_width_m} m` : null],
        [t("layers.over_water"), t(p.over_water ? "layers.yes" : "layers.no")],
      ]),
    );
    this.corridors.set(p.id, { layer, props: p });
    return layer;
  }

  #pad(p, g) {
    if (g.type !== "Point") return null;
    const [lon, lat] = g.coordinates;
    const layer = L.circle([lat, lon], {
      ...STYLE.pad,
      radius: PAD_RADIUS_M,
      className: `pad pad-${p.id}`,
    });
    layer.bindTooltip(text(`${p.id}${p.charger ? " ⚡" : ""}`), {
      permanent: true,
      direction: "top",
      offset: [0, -6],
      className: "feature-label pad-label",
    });
    layer.bindPopup(
      popup(t("layers.pad_title", { id: p.id, name: p.name || "" }), [
        [t("layers.charger"), t(p.charger ? "layers.yes" : "layers.no")],
        [t("layers.max_takeoff_mass"), p.max_takeoff_mass_kg ? `${p.max_takeoff_mass_kg} kg` : null],
        [t("layers.turnaround"), p.turnaround_min ? `${p.turnaround_min} min` : null],
      ]),
    );
    this.pads.set(p.id, { layer, props: p });
    return layer;
  }

  #closure(p, g) {
    const zone = this.site?.timezone || "UTC";
    const official = Boolean(p.source);
    const what = official ? t("layers.official_zone", { id: p.source_zone_id }) : closedThing(p.target_kind, p.pad_id || p.corridor_id);
    const rows = [
      [t("layers.closed"), what],
      [t("layers.origin"), official ? t("layers.imported_from", { source: p.source }) : null],
      [t("layers.when"), `${spanLabel(p.start, p.end, zone)} (${utcSpanLabel(p.start, p.end)})`],
      [t("ui.reason"), p.reason],
      [t("layers.altitudes"), p.floor_amsl_m !== undefined ? `${fmt(p.floor_amsl_m)}–${fmt(p.ceiling_amsl_m)} m AMSL` : null],
    ];
    const active = Date.parse(p.start) <= Date.now();
    const style = {
      ...STYLE.closure,
      ...(official ? { dashArray: "2 6", color: "#5a0070" } : {}),
      className: `closure ${official ? "closure-official " : ""}${active ? "closure-active" : "closure-future"}`,
    };
    let layer;
    if (g.type === "Point") {
      const [lon, lat] = g.coordinates;
      layer = L.circle([lat, lon], { ...style, radius: PAD_RADIUS_M * 1.8 });
    } else {
      const latlngs = polygonLatLngs(g);
      if (!latlngs) return null;
      layer = L.polygon(latlngs, style);
    }
    const shown = official ? t("layers.official_zone_from", { id: p.source_zone_id, source: p.source }) : what;
    const tooltip = t(active ? "layers.closed_now" : "layers.closed_later", { what: shown, reason: p.reason });
    layer.bindTooltip(text(tooltip), { sticky: true });
    layer.bindPopup(popup(t("layers.closure_title", { id: p.id }), rows));
    return layer;
  }
}

/**
 * Return what a closure closes, in words: "pad P4", "corridor C1", or "an area"
 * (`kind` is the closure's target kind: pad, corridor or area).
 */
export function closedThing(kind, id) {
  if (kind === "pad") return t("layers.target_pad", { id });
  if (kind === "corridor") return t("layers.target_corridor", { id });
  return t("layers.target_area");
}

/**
 * Return a Leaflet map in element `id` (Leaflet `options`) whose own words follow
 * the page language: the zoom buttons' titles, the Leaflet credit and the land
 * layer's credit are written from the catalogue and again after every switch.
 */
export function pageMap(id, options = {}) {
  const map = L.map(id, { ...options, zoomControl: false });
  const zoom = L.control.zoom({ zoomInTitle: t("map.zoom_in"), zoomOutTitle: t("map.zoom_out") }).addTo(map);
  creditLeaflet(map);
  onLanguageChange(() => {
    // Leaflet writes a button's title and aria-label once, when it is made.
    const container = zoom.getContainer();
    for (const [cls, key] of [["leaflet-control-zoom-in", "map.zoom_in"], ["leaflet-control-zoom-out", "map.zoom_out"]]) {
      const button = container?.querySelector(`.${cls}`);
      button?.setAttribute("title", t(key));
      button?.setAttribute("aria-label", t(key));
    }
    creditLeaflet(map);
    creditLand(map);
  });
  return map;
}

/** Credit Leaflet (its licence, served here) in the map's attribution line. */
function creditLeaflet(map) {
  const title = escapeHtml(t("layers.leaflet_licence"));
  map.attributionControl.setPrefix(`<a href="/static/vendor/leaflet/LICENSE" title="${title}">Leaflet</a>`);
}

/** Leaflet puts attributions in as HTML: our words and the file's names go in as text. */
const escapeHtml = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

/** The land layer's credit as shown on each map (to take it back on a switch). */
const landCredits = new WeakMap(); // map -> {land, shown}

/**
 * Return the land layer's credit in the page language: the file's `credit` parts
 * (source, authors, licence, package: names, kept as written) in the catalogue's
 * sentence, or the file's own `attribution` line when it has no parts.
 */
export function landCredit(land) {
  const parts = land.credit;
  if (parts && typeof parts === "object") return t("layers.coastline_credit", parts);
  return land.attribution || "";
}

function creditLand(map) {
  const credit = landCredits.get(map);
  if (!credit) return;
  if (credit.shown) map.attributionControl.removeAttribution(credit.shown);
  credit.shown = escapeHtml(landCredit(credit.land));
  if (credit.shown) map.attributionControl.addAttribution(credit.shown);
}

/** Draw the shipped land layer (GSHHG coastline) under everything; never fails the map. */
export async function drawLand(map, url = "/static/basemap/hk_land.geojson") {
  try {
    const response = await fetch(url);
    if (!response.ok) return null;
    const land = await response.json();
    const pane = map.createPane("land");
    pane.style.zIndex = 250;
    const layer = L.geoJSON(land, {
      pane: "land",
      interactive: false,
      style: { color: "#9a8f75", weight: 1, fillColor: "#efe8d6", fillOpacity: 1 },
    }).addTo(map);
    landCredits.set(map, { land: { credit: land.credit, attribution: land.attribution }, shown: "" });
    creditLand(map);
    return layer;
  } catch {
    return null;
  }
}

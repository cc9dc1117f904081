// The live map: the site's features, the shipped coastline, and every drone the
// user may see from /ws/live, with events, incidents and the selected drone's
// booking beside it.
/* global L */

import { wireDroneCommands } from "./drone_commands.js";
import { DroneLayer, droneName, linkAgeS, stateInfo } from "./drone_layer.js";
import { eventSentence, incidentSentence, kindText, whoOf } from "./event_sentences.js";
import { LiveStream, vehicleEntries } from "./live_stream.js";
import { formatNumber, onLanguageChange, t, tValue } from "./i18n.js";
import { api, applyRole, chooseSite, el, listSites, requireUser, signOut, siteSelector, token } from "./session.js";
import { CoordinateFormat, cursorReadout } from "./grid_readout.js";
import { LabelDeclutter } from "./label_layout.js";
import { closedThing, drawLand, pageMap, SiteLayers } from "./site_layers.js";
import { VesselLayer } from "./vessel_layer.js";
import { localTime, spanLabel, startClock, utcSpanLabel } from "./time.js";
import { Toasts } from "./toasts.js";

const MAX_EVENTS = 100;
const SIDE_LIST_EVERY_MS = 1000;
const SITE_REFRESH_MS = 5 * 60_000;

const $ = (id) => document.getElementById(id);

const page = {
  user: null,
  site: null,
  zone: "UTC",
  map: null,
  layers: null,
  drones: null,
  stream: null,
  toasts: new Toasts($("toasts")),
  bookings: new Map(), // id -> booking
  bookingFetches: new Map(), // id -> Promise
  incidents: new Map(), // id -> incident
  events: [],
  dropped: 0,
  listDirty: true,
  coordinates: new CoordinateFormat(),
  siteCollection: null, // the site's features as last loaded
  status: null, // the live stream's last status
  relabels: [], // what writes the map controls' words again
};

async function main() {
  page.user = await requireUser();
  applyRole(page.user);
  wireDroneCommands($("selected-commands"), $("cmd-reason"), $("cmd-answer"), () => page.drones?.selectedKey);
  const [config, sites] = await Promise.all([api("/ui/config.json"), listSites()]);
  page.site = chooseSite(sites);
  if (!page.site) {
    $("live-status").textContent = t("map.no_site");
    return;
  }
  siteSelector($("site-select"), sites, page.site);
  page.zone = page.site.timezone || "UTC";
  startClock($("clock"), page.zone);
  page.map = makeMap(config);
  page.layers = new SiteLayers(page.map);
  cursorReadout(page.map, page.coordinates);
  page.coordinates.onChange(() => renderSelected());
  await loadSite(true);
  setInterval(() => loadSite(false), SITE_REFRESH_MS);
  page.drones = new DroneLayer(page.map, { onSelect: selectDrone });
  page.vessels = new VesselLayer(page.map);
  page.labels = new LabelDeclutter(page.map, [".pad-label", ".drone-label"], [".drone-arrow"]);
  addVesselToggle(page.map);
  setInterval(() => page.vessels.expireCpa(Date.now()), 1000);
  page.map.on("click", () => selectDrone(null));
  page.map.on("zoomend", setLabelDensity);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") selectDrone(null);
  });
  $("selected-close").addEventListener("click", () => selectDrone(null));
  page.stream = new LiveStream({
    path: config.live_path,
    token,
    site: page.site.id,
    onFrame: handleFrame,
    onStatus: showStatus,
  });
  page.stream.connect();
  setInterval(renderSideLists, SIDE_LIST_EVERY_MS);
  setInterval(renderSelected, 250);
  onLanguageChange(relabel);
  window.skyberth = page; // for the browser tests and for curious people
}

function makeMap(config) {
  const map = pageMap("map", { zoomSnap: 0.25, worldCopyJump: false, attributionControl: true });
  drawLand(map);
  if (config.tile_url) {
    L.tileLayer(config.tile_url, { attribution: config.tile_attribution, maxZoom: 19 }).addTo(map);
  }
  L.control.scale({ imperial: false }).addTo(map);
  addViewControl(map);
  addLegend(map);
  return map;
}

function addViewControl(map) {
  const control = L.control({ position: "topleft" });
  control.onAdd = () => {
    const box = el("div", { class: "leaflet-bar view-buttons" });
    const pier = el("button", { type: "button" });
    const whole = el("button", { type: "button" });
    const words = () => {
      pier.title = t("map.zoom_to_pier");
      pier.textContent = t("map.pier");
      whole.title = t("map.show_whole_site");
      whole.textContent = t("ui.site");
    };
    words();
    page.relabels.push(words);
    pier.addEventListener("click", () => map.fitBounds(page.layers.pierBounds()));
    whole.addEventListener("click", () => page.layers.bounds && map.fitBounds(page.layers.bounds));
    box.append(pier, whole);
    L.DomEvent.disableClickPropagation(box);
    return box;
  };
  control.addTo(map);
}

function addLegend(map) {
  const control = L.control({ position: "bottomleft" });
  control.onAdd = () => {
    const box = el("details", { class: "legend", open: window.innerWidth > 900 });
    const words = () => {
      const shown = ["inside", "near_edge", "outside_lateral", "unassigned", "on_ground", "link_lost"];
      const items = shown.map((s) =>
        el("li", {}, el("i", { class: "swatch", style: `background:${stateInfo(s).colour}` }), stateInfo(s).text),
      );
      const features = ["corridor", "pad", "exclusion", "closure"].map((feature) =>
        el("li", {}, el("i", { class: `swatch ${feature}` }), t(`map.legend_${feature}`)),
      );
      box.replaceChildren(el("summary", {}, t("ui.legend")), el("ul", {}, items, features));
    };
    words();
    page.relabels.push(words);
    L.DomEvent.disableClickPropagation(box);
    return box;
  };
  control.addTo(map);
}

/** A map control that shows or hides the AIS vessel layer. */
function addVesselToggle(map) {
  const control = L.control({ position: "topright" });
  control.onAdd = () => {
    const box = el("input", { type: "checkbox", id: "vessel-toggle", checked: true });
    box.addEventListener("change", () => page.vessels.setVisible(box.checked));
    const words = el("span", {});
    const label = el("label", { class: "map-toggle" }, box, " ", words);
    const write = () => (words.textContent = t("map.vessels_ais"));
    write();
    page.relabels.push(write);
    L.DomEvent.disableClickPropagation(label);
    return label;
  };
  control.addTo(map);
}

async function loadSite(fit) {
  try {
    const collection = await api(`sites/${encodeURIComponent(page.site.id)}`);
    page.siteCollection = collection;
    page.layers.draw(collection);
    page.coordinates.setDisplay(collection.display);
    const selected = page.drones?.get(page.drones.selectedKey);
    if (selected) page.layers.highlightCorridor(corridorOf(selected.v));
    if (fit) page.map.fitBounds(page.layers.pierBounds());
    $("map").dataset.siteLoaded = "true";
  } catch (err) {
    page.toasts.show(t("map.site_not_loaded", { reason: err.message }), { severity: "warning" });
  }
}

// ---- the live stream -------------------------------------------------------

function handleFrame(frame) {
  const now = performance.now();
  switch (frame.type) {
    case "snapshot":
      page.bookings = new Map((frame.bookings || []).map((b) => [b.id, b]));
      page.incidents = new Map((frame.incidents || []).map((i) => [i.id, i]));
      page.drones.replaceAll(frame.vehicles || [], now);
      page.vessels.replaceAll(frame.vessels || []);
      page.listDirty = true;
      showOverload(frame.gateway);
      break;
    case "gateway":
      showOverload(frame);
      break;
    case "vehicles":
      for (const v of vehicleEntries(frame)) page.drones.upsert(v, now);
      page.listDirty = true;
      break;
    case "vessels":
      page.vessels.apply(frame);
      break;
    case "event":
      addEvent(frame.event);
      if (frame.event?.kind === "vessel_proximity" || frame.event?.kind === "vessel_separation_breach") {
        const drone = page.drones.get(frame.event.vehicle_key)?.v;
        if (drone) page.vessels.showCpa(frame.event, [drone.lat_deg, drone.lon_deg], Date.now());
      }
      break;
    case "incident":
      onIncident(frame.incident);
      break;
    case "booking":
      onBooking(frame);
      break;
    case "closure":
      onClosure(frame);
      break;
    case "dropped":
      page.dropped = frame.total ?? page.dropped + (frame.frames || 0);
      renderCounters();
      break;
    default:
      break; // pong, and frame types newer than this page
  }
}

/** The gateway sheds load (docs/live-stream.md, `gateway`): say so over the map. */
function showOverload(gateway) {
  page.overload = gateway || null;
  const banner = $("overload-banner");
  if (!gateway?.overloaded) {
    banner.hidden = true;
    return;
  }
  banner.textContent = t("map.overloaded", { shed: formatNumber(gateway.shed_datagrams ?? 0) });
  banner.hidden = false;
}

function showStatus(status) {
  page.status = status;
  const { state, why, code, attempt, retryInMs } = status;
  const pill = $("live-status");
  const banner = $("live-banner");
  pill.dataset.state = state;
  banner.dataset.state = state;
  if (state === "signed-out") {
    signOut(t("session.ended"));
    return;
  }
  const text = t(`map.status.${state}`);
  pill.textContent = text;
  if (state === "reconnecting") {
    const reason = t(`map.why.${why || "lost"}`, { code: code ?? "–" });
    banner.textContent = retryInMs
      ? t("map.reconnecting_retry", { reason, seconds: (retryInMs / 1000).toFixed(1), attempt })
      : t("map.reconnecting", { reason });
    banner.hidden = false;
    $("map").classList.add("stale");
  } else if (state === "forbidden") {
    banner.textContent = t("map.forbidden");
    banner.hidden = false;
  } else {
    banner.hidden = state === "live";
    if (state === "connecting") banner.textContent = text;
    if (state === "live") $("map").classList.remove("stale");
  }
}

/**
 * Add an event to the list (and a toast for a warning or breach). A server event
 * is put in words from its codes (event_sentences.js); one this page makes itself
 * carries `words`, a function giving its sentence in the page language.
 */
function addEvent(event) {
  if (!event) return;
  page.events.unshift(event);
  if (page.events.length > MAX_EVENTS) page.events.pop();
  const li = eventItem(event);
  $("event-list").prepend(li);
  while ($("event-list").children.length > MAX_EVENTS) $("event-list").lastElementChild.remove();
  $("events-empty").hidden = true;
  if (event.severity === "warning" || event.severity === "breach") {
    page.toasts.show(eventText(event), { severity: event.severity, title: kindText(event.kind) });
  }
}

/** Return what the page calls the drone of a frame (event or incident). */
function whoIn(frame) {
  const entry = frame.vehicle_key ? page.drones?.get(frame.vehicle_key) : null;
  return whoOf(entry?.v.drone_name, frame.drone_id, frame.sysid);
}

function eventText(event) {
  if (event.words) return event.words();
  const entry = event.vehicle_key ? page.drones?.get(event.vehicle_key) : null;
  const corridor = entry ? corridorOf(entry.v) : page.bookings.get(event.booking_id)?.corridor_id;
  return eventSentence(event, whoIn(event), corridor);
}

function eventItem(event) {
  const ms = event.t_utc ? Date.parse(event.t_utc) : (event.t_s || 0) * 1000;
  const li = el(
    "li",
    { class: `event sev-${event.severity || "info"}` },
    el("time", { datetime: new Date(ms).toISOString(), title: new Date(ms).toISOString() }, localTime(ms, page.zone, true)),
    el("span", {}, eventText(event)),
  );
  if (event.vehicle_key) {
    li.tabIndex = 0;
    li.addEventListener("click", () => selectDrone(event.vehicle_key, true));
    li.addEventListener("keydown", (e) => e.key === "Enter" && selectDrone(event.vehicle_key, true));
  }
  return li;
}

function onIncident(incident) {
  if (!incident) return;
  const known = page.incidents.has(incident.id);
  if (incident.state === "closed") page.incidents.delete(incident.id);
  else page.incidents.set(incident.id, incident);
  page.listDirty = true;
  if (!known && incident.state !== "closed") {
    page.toasts.show(incidentSentence(incident, whoIn(incident)), {
      severity: incident.severity === "breach" ? "breach" : "warning",
      title: t("map.incident_opened", { id: incident.id }),
    });
  }
}

function onBooking(frame) {
  const b = frame.booking;
  if (!b) return;
  // Merge: an older server may send only the fields that changed.
  page.bookings.set(b.id, { ...(page.bookings.get(b.id) || {}), ...b });
  if (frame.change === "bumped") {
    const params = { id: b.id, drone: b.drone_id, closure: frame.closure_id, reason: frame.reason };
    page.toasts.show(t(frame.reason ? "map.booking_bumped_because" : "map.booking_bumped", params), {
      severity: "warning",
      title: t("map.booking_bumped_title"),
    });
  }
  const state = (s) => tValue("booking.state", s);
  addEvent({
    kind: `booking_${frame.change}`,
    severity: "info",
    t_utc: new Date().toISOString(),
    words: () =>
      frame.from_state
        ? t("map.booking_moved", { id: b.id, drone: b.drone_id, from: state(frame.from_state), to: state(b.state) })
        : t("map.booking_is", { id: b.id, drone: b.drone_id, state: state(b.state) }),
  });
}

function onClosure(frame) {
  const c = frame.closure || {};
  const what = closedThing(c.pad_id ? "pad" : c.corridor_id ? "corridor" : "area", c.pad_id || c.corridor_id);
  if (frame.change === "created") {
    const when = c.start && c.end ? spanLabel(c.start, c.end, page.zone) : "";
    const key = c.reason ? "map.closed_because" : "map.closed";
    page.toasts.show(t(key, { what, when, reason: c.reason }), { severity: "warning", title: t("map.closure_title") });
  }
  loadSite(false);
}

// ---- selection and side lists ---------------------------------------------

function corridorOf(v) {
  return v.corridor_id || page.bookings.get(v.booking_id)?.corridor_id || null;
}

function selectDrone(key, pan = false) {
  page.drones.select(key);
  const entry = key ? page.drones.get(key) : null;
  $("selected").hidden = !entry;
  page.layers.highlightCorridor(entry ? corridorOf(entry.v) : null);
  if (entry && pan) page.map.panTo([entry.v.lat_deg, entry.v.lon_deg]);
  if (entry?.v.booking_id && !page.bookings.has(entry.v.booking_id)) fetchBooking(entry.v.booking_id);
  renderSelected();
}

function fetchBooking(id) {
  if (page.bookingFetches.has(id)) return;
  const request = api(`bookings/${id}`)
    .then((b) => {
      // Merge: an older server may send only the fields that changed.
  page.bookings.set(b.id, { ...(page.bookings.get(b.id) || {}), ...b });
      const selected = page.drones.get(page.drones.selectedKey);
      if (selected?.v.booking_id === id) page.layers.highlightCorridor(corridorOf(selected.v));
    })
    .catch(() => page.bookings.set(id, null));
  page.bookingFetches.set(id, request);
}

function renderSelected() {
  const entry = page.drones?.get(page.drones.selectedKey);
  if (!entry) return;
  const v = entry.v;
  const info = stateInfo(v.state);
  $("selected-name").textContent = droneName(v);
  const pill = $("selected-state");
  pill.textContent = info.text;
  pill.style.setProperty("--pill-colour", info.colour);
  const age = linkAgeS(entry, performance.now());
  const rows = [
    ["map.altitude", t("map.altitude_value", { above_home: fmt(v.rel_alt_m), amsl: fmt(v.alt_amsl_m) })],
    ["map.speed", t("map.speed_value", { speed: fmt(v.speed_mps), climb: fmt(v.climb_mps) })],
    ["map.heading", `${fmt(v.heading_deg, 0)}°`],
    ["map.battery", typeof v.battery_pct === "number" ? `${Math.round(v.battery_pct)} %` : t("map.unknown")],
    ["map.link", t("map.link_value", { age: fmt(age), rate: fmt(v.frames_per_s), fix: v.gps_fix ?? "–" })],
    ["map.corridor_margin", v.lateral_margin_m === null || v.lateral_margin_m === undefined ? "–" : `${fmt(v.lateral_margin_m)} m`],
    ["map.time_to_exit", v.seconds_to_exit === null || v.seconds_to_exit === undefined ? "–" : `${fmt(v.seconds_to_exit)} s`],
    ["map.armed_flying", t("map.armed_flying_value", {
      armed: t(v.armed ? "map.armed" : "map.disarmed"),
      flying: t(v.flying ? "map.flying" : "map.not_flying"),
    })],
    ["map.position", page.coordinates.position(v.lon_deg, v.lat_deg)],
    ["map.height", page.coordinates.mpd(v.alt_amsl_m)],
    ["map.mavlink", t("map.mavlink_value", { sysid: v.sysid ?? "–", key: v.key })],
  ];
  const shown = rows.filter(([, val]) => val !== null);
  $("selected-values").replaceChildren(...shown.flatMap(([k, val]) => [el("dt", {}, t(k)), el("dd", {}, val)]));
  $("selected-booking").replaceChildren(bookingSummary(v));
}

function bookingSummary(v) {
  if (!v.booking_id) return el("p", { class: "warn" }, t("map.no_booking"));
  const b = page.bookings.get(v.booking_id);
  if (b === undefined) return el("p", {}, t("map.booking_loading", { id: v.booking_id }));
  if (b === null) return el("p", {}, t("map.booking_not_visible", { id: v.booking_id }));
  const pads = [b.takeoff_pad_id, b.landing_pad_id].filter(Boolean).join(" → ") || t("ui.none");
  return el(
    "dl",
    { class: "booking-summary" },
    el("dt", {}, t("ui.booking")), el("dd", {}, `#${b.id} · ${tValue("booking.state", b.state)}`),
    el("dt", {}, t("ui.corridor")), el("dd", {}, b.corridor_id || t("ui.none")),
    el("dt", {}, t("ui.pads")), el("dd", {}, pads),
    el("dt", {}, t("map.window")), el("dd", { title: utcSpanLabel(b.start, b.end) }, spanLabel(b.start, b.end, page.zone)),
    el("dt", {}, t("ui.operator")), el("dd", {}, b.operator_id),
  );
}

const fmt = (x, digits = 1) => (typeof x === "number" && Number.isFinite(x) ? x.toFixed(digits) : "–");

function renderSideLists() {
  renderCounters();
  if (!page.listDirty) return;
  page.listDirty = false;
  const incidents = [...page.incidents.values()].sort((a, b) => (b.id || 0) - (a.id || 0));
  $("incident-list").replaceChildren(
    ...incidents.map((i) => {
      const opened = i.opened_utc ? localTime(Date.parse(i.opened_utc), page.zone) : "";
      const li = el(
        "li",
        { class: `incident sev-${i.severity || "warning"}`, tabIndex: 0 },
        el("strong", {}, `#${i.id} ${kindText(i.kind)}`),
        el("span", {}, ` ${i.drone_id || (i.sysid ? t("incidents.sysid", { sysid: i.sysid }) : "")} ${opened}`),
        el("div", { class: "muted" }, incidentSentence(i, whoIn(i))),
      );
      const select = () => {
        const hit = [...page.drones.entries.values()].find(
          (e) => (i.drone_id && e.v.drone_id === i.drone_id) || (i.sysid && e.v.sysid === i.sysid),
        );
        if (hit) selectDrone(hit.key, true);
      };
      li.addEventListener("click", select);
      li.addEventListener("keydown", (e) => e.key === "Enter" && select());
      return li;
    }),
  );
  $("incidents-empty").hidden = incidents.length > 0;
  const drones = [...page.drones.entries.values()].sort((a, b) =>
    droneName(a.v).localeCompare(droneName(b.v), undefined, { numeric: true }),
  );
  // Rebuilt only when who is there or their state changed, so keyboard focus stays.
  const signature = drones.map((e) => `${e.key}|${droneName(e.v)}|${e.v.state}`).join("\n");
  if (signature === page.droneListSignature) return;
  page.droneListSignature = signature;
  $("drone-list").replaceChildren(
    ...drones.map((e) =>
      el(
        "li",
        {},
        el(
          "button",
          { type: "button", class: "drone-item", onclick: () => selectDrone(e.key, true) },
          el("i", { class: "swatch", style: `background:${stateInfo(e.v.state).colour}` }),
          `${droneName(e.v)} — ${stateInfo(e.v.state).text}`,
        ),
      ),
    ),
  );
  $("drones-empty").hidden = drones.length > 0;
}

/**
 * Declutter labels by how many drones and how close the view is: all numbers for a
 * few drones or close up, names only for a crowd, and for a big crowd only the
 * drones that need attention (any state but inside / on the ground) and the selected.
 */
function setLabelDensity() {
  const n = page.drones?.size ?? 0;
  const zoom = page.map.getZoom();
  const density = n <= 30 || zoom >= 18 ? "full" : n <= 80 || zoom >= 17 ? "compact" : "alerts";
  const box = $("map");
  if (box.dataset.labels !== density) box.dataset.labels = density;
}

function renderCounters() {
  if (page.map) setLabelDensity();
  const n = page.drones?.size ?? 0;
  $("drone-count").textContent = t("map.drone_count", { count: n });
  $("dropped-count").textContent = page.dropped ? ` · ${t("map.frames_skipped", { count: page.dropped })}` : "";
}

/** Write everything this page built itself again, in the language just chosen. */
function relabel() {
  for (const words of page.relabels) words();
  if (page.siteCollection) {
    page.layers.draw(page.siteCollection);
    const selected = page.drones?.get(page.drones.selectedKey);
    if (selected) page.layers.highlightCorridor(corridorOf(selected.v));
  }
  page.drones?.relabel();
  if (page.status) showStatus(page.status);
  if (page.overload) showOverload(page.overload);
  $("event-list").replaceChildren(...page.events.map(eventItem));
  page.listDirty = true;
  page.droneListSignature = null;
  renderSideLists();
  renderSelected();
}

main().catch((err) => {
  $("live-status").textContent = t("page.could_not_start", { reason: err.message });
});

// The live map: the site's features, the shipped coastline, and every drone the
// user may see from /ws/live, with events, incidents and the selected drone's
// booking beside it.
/* global L */

import { wireDroneCommands } from "./drone_commands.js";
import { DroneLayer, droneName, linkAgeS, stateInfo, STATE_INFO } from "./drone_layer.js";
import { LiveStream, vehicleEntries } from "./live_stream.js";
import { api, applyRole, chooseSite, el, listSites, requireUser, signOut, siteSelector, token } from "./session.js";
import { CoordinateFormat, cursorReadout } from "./grid_readout.js";
import { LabelDeclutter } from "./label_layout.js";
import { drawLand, SiteLayers } from "./site_layers.js";
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
};

async function main() {
  page.user = await requireUser();
  applyRole(page.user);
  wireDroneCommands($("selected-commands"), $("cmd-reason"), $("cmd-answer"), () => page.drones?.selectedKey);
  const [config, sites] = await Promise.all([api("/ui/config.json"), listSites()]);
  page.site = chooseSite(sites);
  if (!page.site) {
    $("live-status").textContent = "This server serves no site.";
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
  window.skyberth = page; // for the browser tests and for curious people
}

function makeMap(config) {
  const map = L.map("map", { zoomSnap: 0.25, worldCopyJump: false, attributionControl: true });
  map.attributionControl.setPrefix(
    '<a href="/static/vendor/leaflet/LICENSE" title="Leaflet licence">Leaflet</a>',
  );
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
    const pier = el("button", { type: "button", title: "Zoom to the pier" }, "Pier");
    const whole = el("button", { type: "button", title: "Show the whole site" }, "Site");
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
    const shown = ["inside", "near_edge", "outside_lateral", "unassigned", "on_ground", "link_lost"];
    const items = shown.map((s) =>
      el("li", {}, el("i", { class: "swatch", style: `background:${STATE_INFO[s].colour}` }), STATE_INFO[s].text),
    );
    const features = [
      ["swatch corridor", "corridor (altitude band, m)"],
      ["swatch pad", "pad (⚡ charger)"],
      ["swatch exclusion", "exclusion zone"],
      ["swatch closure", "closure"],
    ].map(([cls, text]) => el("li", {}, el("i", { class: cls }), text));
    const box = el("details", { class: "legend", open: window.innerWidth > 900 }, el("summary", {}, "Legend"), el("ul", {}, items, features));
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
    const label = el("label", { class: "map-toggle" }, box, " vessels (AIS)");
    L.DomEvent.disableClickPropagation(label);
    return label;
  };
  control.addTo(map);
}

async function loadSite(fit) {
  try {
    const collection = await api(`sites/${encodeURIComponent(page.site.id)}`);
    page.layers.draw(collection);
    page.coordinates.setDisplay(collection.display);
    const selected = page.drones?.get(page.drones.selectedKey);
    if (selected) page.layers.highlightCorridor(corridorOf(selected.v));
    if (fit) page.map.fitBounds(page.layers.pierBounds());
    $("map").dataset.siteLoaded = "true";
  } catch (err) {
    page.toasts.show(`Could not load the site's features: ${err.message}`, { severity: "warning" });
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

function showStatus({ state, detail, attempt, retryInMs }) {
  const status = $("live-status");
  const banner = $("live-banner");
  status.dataset.state = state;
  banner.dataset.state = state;
  if (state === "signed-out") {
    signOut("Your session has ended; please sign in again.");
    return;
  }
  const text = {
    connecting: "Connecting to the live feed…",
    live: "Live",
    reconnecting: "Reconnecting…",
    forbidden: "Not allowed to watch this site",
  }[state];
  status.textContent = text;
  if (state === "reconnecting") {
    const when = retryInMs ? ` Next try in ${(retryInMs / 1000).toFixed(1)} s (attempt ${attempt}).` : "";
    banner.textContent = `Reconnecting to the live feed (${detail || "connection lost"}).${when} Drones shown may be out of date.`;
    banner.hidden = false;
    $("map").classList.add("stale");
  } else if (state === "forbidden") {
    banner.textContent = `The live feed refused: ${detail}.`;
    banner.hidden = false;
  } else {
    banner.hidden = state === "live";
    if (state === "connecting") banner.textContent = text;
    if (state === "live") $("map").classList.remove("stale");
  }
}

function addEvent(event) {
  if (!event) return;
  page.events.unshift(event);
  if (page.events.length > MAX_EVENTS) page.events.pop();
  const li = eventItem(event);
  $("event-list").prepend(li);
  while ($("event-list").children.length > MAX_EVENTS) $("event-list").lastElementChild.remove();
  $("events-empty").hidden = true;
  if (event.severity === "warning" || event.severity === "breach") {
    page.toasts.show(event.message || event.kind, { severity: event.severity, title: kindText(event.kind) });
  }
}

function eventItem(event) {
  const t = event.t_utc ? Date.parse(event.t_utc) : (event.t_s || 0) * 1000;
  const li = el(
    "li",
    { class: `event sev-${event.severity || "info"}` },
    el("time", { datetime: new Date(t).toISOString(), title: new Date(t).toISOString() }, localTime(t, page.zone, true)),
    el("span", {}, event.message || kindText(event.kind)),
  );
  if (event.vehicle_key) {
    li.tabIndex = 0;
    li.addEventListener("click", () => selectDrone(event.vehicle_key, true));
    li.addEventListener("keydown", (e) => e.key === "Enter" && selectDrone(event.vehicle_key, true));
  }
  return li;
}

function kindText(kind) {
  return (kind || "event").replaceAll("_", " ");
}

function onIncident(incident) {
  if (!incident) return;
  const known = page.incidents.has(incident.id);
  if (incident.state === "closed") page.incidents.delete(incident.id);
  else page.incidents.set(incident.id, incident);
  page.listDirty = true;
  if (!known && incident.state !== "closed") {
    page.toasts.show(incident.message || kindText(incident.kind), {
      severity: incident.severity === "breach" ? "breach" : "warning",
      title: `Incident #${incident.id} opened`,
    });
  }
}

function onBooking(frame) {
  const b = frame.booking;
  if (!b) return;
  // Merge: an older server may send only the fields that changed.
  page.bookings.set(b.id, { ...(page.bookings.get(b.id) || {}), ...b });
  if (frame.change === "bumped") {
    const why = frame.reason ? `: ${frame.reason}` : "";
    page.toasts.show(`Booking #${b.id} (${b.drone_id}) was bumped by closure #${frame.closure_id}${why}`, {
      severity: "warning",
      title: "Booking bumped",
    });
  }
  addEvent({
    kind: `booking_${frame.change}`,
    severity: frame.change === "bumped" ? "info" : "info",
    t_utc: new Date().toISOString(),
    message: `Booking #${b.id} (${b.drone_id}) ${frame.from_state ? `${frame.from_state} → ` : ""}${b.state}`,
  });
}

function onClosure(frame) {
  const c = frame.closure || {};
  const what = c.pad_id ? `pad ${c.pad_id}` : c.corridor_id ? `corridor ${c.corridor_id}` : "an area";
  if (frame.change === "created") {
    const when = c.start && c.end ? ` ${spanLabel(c.start, c.end, page.zone)}` : "";
    page.toasts.show(`${what} closed${when}${c.reason ? `: ${c.reason}` : ""}`, { severity: "warning", title: "Closure" });
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
    ["Altitude", `${fmt(v.rel_alt_m)} m above home · ${fmt(v.alt_amsl_m)} m AMSL`],
    ["Speed", `${fmt(v.speed_mps)} m/s · climb ${fmt(v.climb_mps)} m/s`],
    ["Heading", `${fmt(v.heading_deg, 0)}°`],
    ["Battery", typeof v.battery_pct === "number" ? `${Math.round(v.battery_pct)} %` : "unknown"],
    ["Link", `${fmt(age)} s old · ${fmt(v.frames_per_s)} frames/s · GPS fix ${v.gps_fix ?? "–"}`],
    ["Corridor margin", v.lateral_margin_m === null || v.lateral_margin_m === undefined ? "–" : `${fmt(v.lateral_margin_m)} m`],
    ["Time to exit", v.seconds_to_exit === null || v.seconds_to_exit === undefined ? "–" : `${fmt(v.seconds_to_exit)} s`],
    ["Armed / flying", `${v.armed ? "armed" : "disarmed"} · ${v.flying ? "flying" : "not flying"}`],
    ["Position", page.coordinates.position(v.lon_deg, v.lat_deg)],
    ["Height", page.coordinates.mpd(v.alt_amsl_m)],
    ["MAVLink", `system ${v.sysid ?? "–"} · ${v.key}`],
  ];
  const shown = rows.filter(([, val]) => val !== null);
  $("selected-values").replaceChildren(...shown.flatMap(([k, val]) => [el("dt", {}, k), el("dd", {}, val)]));
  $("selected-booking").replaceChildren(bookingSummary(v));
}

function bookingSummary(v) {
  if (!v.booking_id) return el("p", { class: "warn" }, "No booking: this drone is flying unassigned.");
  const b = page.bookings.get(v.booking_id);
  if (b === undefined) return el("p", {}, `Booking #${v.booking_id} (loading…)`);
  if (b === null) return el("p", {}, `Booking #${v.booking_id} (not visible to you)`);
  const pads = [b.takeoff_pad_id, b.landing_pad_id].filter(Boolean).join(" → ") || "none";
  return el(
    "dl",
    { class: "booking-summary" },
    el("dt", {}, "Booking"), el("dd", {}, `#${b.id} · ${b.state}`),
    el("dt", {}, "Corridor"), el("dd", {}, b.corridor_id || "none"),
    el("dt", {}, "Pads"), el("dd", {}, pads),
    el("dt", {}, "Window"), el("dd", { title: utcSpanLabel(b.start, b.end) }, spanLabel(b.start, b.end, page.zone)),
    el("dt", {}, "Operator"), el("dd", {}, b.operator_id),
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
        el("span", {}, ` ${i.drone_id || (i.sysid ? `sysid ${i.sysid}` : "")} ${opened}`),
        i.message ? el("div", { class: "muted" }, i.message) : null,
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
  $("drone-count").textContent = `${n} drone${n === 1 ? "" : "s"}`;
  $("dropped-count").textContent = page.dropped ? ` · ${page.dropped} frames skipped (slow link)` : "";
}

main().catch((err) => {
  $("live-status").textContent = `The map could not start: ${err.message}`;
});

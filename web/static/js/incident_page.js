// One incident: what happened and which rule fired, its evidence track on the map
// around the breach with the assigned volume, a time slider that replays the track,
// the timeline, exports, and the safety officers' workflow actions. The page is
// served at /incidents/{id} (or /incident?id=N); the API checks every action again.
/* global L */

import { stateInfo } from "./drone_layer.js";
import { incidentSentence, kindText, whoOf } from "./event_sentences.js";
import { onLanguageChange, t, tValue } from "./i18n.js";
import { api, applyRole, el, hasRole, listSites, requireUser } from "./session.js";
import { drawLand, pageMap, SiteLayers } from "./site_layers.js";
import { localDate, localTime, startClock, zoneAbbrev } from "./time.js";

const $ = (id) => document.getElementById(id);

/** Roles that may change incidents (the API answers 403 to everyone else). */
const ACTION_ROLES = ["safety_officer", "site_admin"];
/** Which state change each state allows (telemetry.incidents.workflow.TRANSITIONS). */
const NEXT_ACTIONS = {
  open: ["acknowledge"],
  reopened: ["acknowledge"],
  acknowledged: ["investigate"],
  investigating: ["close"],
  closed: ["reopen"],
};
/** The export formats, each labelled by `incident_page.export.<format>`. */
const EXPORTS = ["html", "geojson", "kml", "csv", "gpkg", "tlog"];
const PLAY_STEP_MS = 120;

const page = {
  id: null,
  user: null,
  zone: "UTC",
  incident: null,
  samples: [],
  map: null,
  marker: null,
  timer: null,
  vessels: [],
  evidence: null,
  tooltips: [], // [layer, () => words]: the map's tooltips, written again on a language switch
};

function incidentIdFromUrl() {
  const query = new URLSearchParams(location.search).get("id");
  const raw = query ?? location.pathname.split("/").filter(Boolean).pop();
  return /^[1-9][0-9]{0,17}$/.test(raw || "") ? Number(raw) : null;
}

async function main() {
  page.user = await requireUser();
  applyRole(page.user);
  page.id = incidentIdFromUrl();
  if (page.id === null) {
    showStatus(t("incident_page.no_id"), "error");
    return;
  }
  let incident;
  try {
    incident = await api(`incidents/${page.id}`);
  } catch (err) {
    const text = err.status === 404
      ? t("incident_page.not_found", { id: page.id })
      : t("incident_page.not_loaded", { reason: err.message });
    showStatus(text, "error");
    return;
  }
  const [config, sites, evidence, track] = await Promise.all([
    api("/ui/config.json"),
    listSites().catch(() => []),
    api(`incidents/${page.id}/evidence`).catch(() => null),
    api(`incidents/${page.id}/track`).catch(() => null),
  ]);
  const site = sites.find((s) => s.id === incident.site_id);
  page.zone = site?.timezone || "UTC";
  startClock($("clock"), page.zone);
  page.evidence = evidence;
  showIncident(incident);
  renderRule(incident, evidence);
  renderExports();
  setUpActions();
  page.map = makeMap(config);
  if (site) drawSite(site.id);
  const samples = track?.samples?.length ? track.samples : [...(evidence?.before || []), ...(evidence?.after || [])];
  drawEvidence(samples, evidence?.volume || incident.volume, Date.parse(incident.opened_at));
  drawVessels(track?.vessels || []);
  onLanguageChange(relabel);
  window.skyberthIncident = page; // for the browser tests and for curious people
}

function showStatus(text, kind = "") {
  const status = $("inc-status");
  status.hidden = !text;
  status.textContent = text || "";
  status.className = `inc-status ${kind}`;
}

// --- what happened --------------------------------------------------------------

function when(iso) {
  if (!iso) return "";
  const ms = Date.parse(iso);
  return `${localDate(ms, page.zone)} ${localTime(ms, page.zone, true)} ${zoneAbbrev(page.zone, ms)}`;
}

const rootCause = (cause) => tValue("incident_page.root_cause", cause);

function showIncident(incident) {
  page.incident = incident;
  document.title = t("incident_page.document_title", { id: incident.id });
  $("inc-title").replaceChildren(
    t("incident_page.title", { id: incident.id }),
    " ",
    el("span", { id: "inc-state", class: `state state-${incident.state}`, dataset: { state: incident.state } }, tValue("incident.state", incident.state)),
    " ",
    el("span", { class: `severity sev-${incident.severity}` }, tValue("incident.severity", incident.severity)),
  );
  showStatus("");
  $("inc-summary").hidden = false;
  $("inc-message").textContent = incidentSentence(incident, whoOf(null, incident.drone_id, incident.sysid));
  const none = t("ui.none");
  const facts = [
    ["ui.kind", kindText(incident.kind)],
    ["incident_page.opened", when(incident.opened_at)],
    ["incident_page.last_occurrence", t("incident_page.occurrences", { when: when(incident.last_occurrence_at), count: incident.occurrences })],
    ["ui.drone", incident.drone_id || t("incident_page.unregistered", { sysid: incident.sysid })],
    ["ui.operator", incident.operator_id || t("incidents.unknown_drone")],
    ["ui.booking", incident.booking_id
      ? el("a", { href: `/bookings/${incident.booking_id}/flights` }, t("incident_page.booking_flights", { id: incident.booking_id }))
      : none],
    ["ui.corridor", incident.corridor_id || none],
    ["incident_page.assigned_to", incident.assignee_id || t("incident_page.nobody")],
    ["incident_page.root_cause_label", incident.root_cause ? rootCause(incident.root_cause) : t("incident_page.not_set")],
    incident.closed_at && ["incident_page.closed", when(incident.closed_at)],
    incident.closing_summary && ["incident_page.closing_summary", incident.closing_summary],
  ].filter(Boolean);
  $("inc-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, t(k)), el("dd", {}, v)]));
  renderTimeline(incident.events || []);
  showActionsFor(incident.state);
}

/** A recorded value as shown: numbers rounded, codes (rule names, link ids) as they are. */
function describeValue(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(2);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/**
 * Return where an assigned volume came from in words: the gateway records
 * "corridor:<id>" for a booked corridor; any other source is shown as recorded.
 */
function volumeSource(source) {
  const corridor = /^corridor:(.+)$/.exec(source || "");
  if (corridor) return t("layers.target_corridor", { id: corridor[1] });
  return source || t("ui.assigned_volume");
}

/** A recorded field's value in words where it is a code the page knows. */
function fieldValue(field, value) {
  if (field === "rule" && typeof value === "string") return kindText(value);
  if (field === "source" && typeof value === "string") return volumeSource(value);
  return describeValue(value);
}

/** Fill `target` with [field, value] pairs, each field named by `incident_page.field.<field>`. */
function definitionList(target, entries) {
  if (!entries.length) {
    target.replaceChildren(el("dd", { class: "muted" }, t("incident_page.none_recorded")));
    return;
  }
  target.replaceChildren(
    ...entries.flatMap(([k, v]) => [el("dt", {}, tValue("incident_page.field", k)), el("dd", {}, fieldValue(k, v))]),
  );
}

function renderRule(incident, evidence) {
  const rule = evidence?.rule || incident.rule || {};
  definitionList($("inc-rule"), Object.entries(rule));
  const volume = evidence?.volume || incident.volume;
  definitionList(
    $("inc-volume"),
    volume
      ? [
          ["source", volume.source || ""],
          ["floor", `${volume.floor_amsl_m.toFixed(1)} m AMSL`],
          ["ceiling", `${volume.ceiling_amsl_m.toFixed(1)} m AMSL`],
        ]
      : [],
  );
  const link = Object.entries(evidence?.link || incident.link || {});
  if (evidence?.frames) link.push(["raw_frames_kept", evidence.frames.count]);
  definitionList($("inc-link"), link);
}

/** The words of a `from`/`to` value of an incident event of `kind`. */
function changedValue(kind, value) {
  if (!value) return t("incident_page.not_set");
  if (kind === "severity_changed") return tValue("incident.severity", value);
  if (kind === "root_cause_set") return rootCause(value);
  return tValue("incident.state", value);
}

/**
 * Return a vehicle's answer to a command in words: the server records
 * "accepted", "denied (MAV_RESULT_...)" or "no answer after N attempts".
 */
function answerText(answer) {
  const text = String(answer ?? "");
  if (text === "accepted") return t("incident_page.answer.accepted");
  const denied = /^denied \((\w+)\)$/.exec(text);
  if (denied) return t("incident_page.answer.denied", { result: denied[1] });
  const silent = /^no answer after (\d+) attempts?$/.exec(text);
  if (silent) return t("incident_page.answer.none", { count: Number(silent[1]) });
  return text;
}

/** The words of a safety command's code, as its button says them. */
const COMMAND_WORDS = { RTL: "ui.rtl", LAND: "ui.cmd_land", LOITER: "ui.cmd_loiter" };

function commandText(command, answer, authenticated) {
  const key = authenticated === false ? "incident_page.command_answer_unsigned" : "incident_page.command_answer";
  const name = COMMAND_WORDS[command] ? t(COMMAND_WORDS[command]) : command;
  return t(key, { command: name, answer: answerText(answer) });
}

/**
 * The details of a timeline entry. Free texts (notes, summaries, reasons) stay
 * as their authors wrote them; the gateway's opening message is not repeated
 * (the sentence at the top says it in the page language).
 */
function eventText(event) {
  const d = event.details || {};
  const parts = [];
  if (d.from || d.to) {
    parts.push(t("incident_page.changed", { from: changedValue(event.kind, d.from), to: changedValue(event.kind, d.to) }));
  }
  if (d.command) parts.push(commandText(d.command, d.answer, d.authenticated));
  for (const key of ["note", "text", "summary", "reason"]) {
    if (d[key]) parts.push(String(d[key]));
  }
  if (d.assignee_id) parts.push(t("incident_page.assigned_to_user", { user: d.assignee_id }));
  else if (event.kind === "assigned") parts.push(t("incident_page.unassigned"));
  if (d.severity) parts.push(tValue("incident.severity", d.severity));
  if (d.root_cause && !d.from) parts.push(rootCause(d.root_cause));
  return parts.join(" · ");
}

function renderTimeline(events) {
  const list = $("inc-timeline");
  if (!events.length) {
    list.replaceChildren(el("li", { class: "muted" }, t("incident_page.no_events")));
    return;
  }
  list.replaceChildren(
    ...events.map((e) =>
      el(
        "li",
        { class: "event", dataset: { kind: e.kind } },
        el("time", { datetime: e.at, title: e.at }, when(e.at)),
        el("strong", {}, tValue("incident_page.event", e.kind)),
        e.actor_id ? t("incident_page.by", { actor: e.actor_id }) : t("incident_page.by_gateway"),
        eventText(e) ? el("div", { class: "event-details" }, eventText(e)) : null,
      ),
    ),
  );
}

// --- exports --------------------------------------------------------------------

function renderExports() {
  $("inc-exports").replaceChildren(
    ...EXPORTS.map((format) => {
      const label = t(`incident_page.export.${format}`);
      const link = el("a", { href: `/api/v1/incidents/${page.id}/export?format=${format}`, dataset: { format } }, label);
      // The API wants the bearer token, which a plain link cannot send.
      link.addEventListener("click", (e) => {
        e.preventDefault();
        download(format, link);
      });
      return el("li", {}, link);
    }),
  );
}

async function download(format, link) {
  link.setAttribute("aria-busy", "true");
  try {
    const response = await api(`incidents/${page.id}/export?format=${format}`, { raw: true });
    const blob = await response.blob();
    const disposition = response.headers.get("Content-Disposition") || "";
    const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] || `incident-${page.id}.${format}`;
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (err) {
    showResult(t("incident_page.export_failed", { reason: err.message }), "refused");
  } finally {
    link.removeAttribute("aria-busy");
  }
}

// --- actions --------------------------------------------------------------------

function setUpActions() {
  if (!hasRole(page.user, ACTION_ROLES)) {
    $("inc-actions").remove(); // not merely hidden: nothing to find for other roles
    return;
  }
  for (const button of $("inc-actions").querySelectorAll("button[data-action]")) {
    button.addEventListener("click", () => act(button.dataset.action, button));
  }
  for (const button of $("inc-commands").querySelectorAll("button[data-command]")) {
    button.addEventListener("click", () => commandDrone(button.dataset.command, button));
  }
}

/** Send RTL, LAND or LOITER to the incident's vehicle (reason: the text box). */
async function commandDrone(command, button) {
  const reason = $("act-text").value.trim();
  const name = button.textContent; // the command in the page language ("RTL" is its code)
  if (!reason) {
    showResult(t("incident_page.command_needs_reason", { command: name }), "refused", "cmd-result");
    return;
  }
  const buttons = $("inc-commands").querySelectorAll("button");
  buttons.forEach((b) => (b.disabled = true));
  showResult(t("incident_page.command_sent", { command: name }), "", "cmd-result");
  try {
    const key = page.incident.vehicle_key;
    const answer = await api(`vehicles/${key}/command`, {
      method: "POST",
      body: { command, reason, incident_id: Number(page.id) },
    });
    const text = commandText(command, answer.answer, answer.authenticated);
    showResult(text, answer.accepted ? "ok" : "refused", "cmd-result").dataset.answer = answer.answer;
    showIncident(await api(`incidents/${page.id}`));
  } catch (err) {
    showResult(t("incident_page.command_not_sent", { command: name, reason: err.message }), "refused", "cmd-result");
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

function showActionsFor(state) {
  if (!$("inc-actions")) return;
  const allowed = NEXT_ACTIONS[state] || [];
  for (const action of ["acknowledge", "investigate", "close", "reopen"]) {
    $(`act-${action}`).hidden = !allowed.includes(action);
  }
}

function bodyFor(action, text) {
  const version = page.incident.version;
  switch (action) {
    case "note":
      return { text, version };
    case "close":
      return { summary: text, version };
    case "reopen":
      return { reason: text, version };
    case "assign":
      return { assignee_id: $("act-assignee").value.trim() || null, note: text, version };
    default:
      return { note: text, version };
  }
}

async function act(action, button) {
  const text = $("act-text").value.trim();
  const buttons = $("inc-actions").querySelectorAll("button");
  buttons.forEach((b) => (b.disabled = true));
  try {
    await api(`incidents/${page.id}/${action}`, { method: "POST", body: bodyFor(action, text) });
    $("act-text").value = "";
    showIncident(await api(`incidents/${page.id}`));
    showResult(t(`incident_page.done.${action}`), "ok");
  } catch (err) {
    let message = err.message;
    if (err.status === 409 && err.body?.rule === "concurrent_write") {
      message = t("incident_page.changed_meanwhile");
      showIncident(await api(`incidents/${page.id}`));
    } else if (err.status === 403) {
      message = t("incident_page.role_may_not");
    }
    showResult(t("incident_page.action_refused", { action: button.textContent, reason: message }), "refused");
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

/** Show `text` in the result box `id` (kind ok | refused | "" while waiting); return the box. */
function showResult(text, kind, id = "act-result") {
  const result = $(id);
  if (!result) return document.createElement("div"); // actions removed: nobody to tell
  result.hidden = false;
  result.className = `result ${kind}`.trim();
  result.dataset.kind = kind;
  result.textContent = text;
  return result;
}

// --- map and replay -------------------------------------------------------------

function makeMap(config) {
  const map = pageMap("inc-map", { zoomSnap: 0.25 });
  drawLand(map);
  if (config.tile_url) {
    L.tileLayer(config.tile_url, { attribution: config.tile_attribution, maxZoom: 19 }).addTo(map);
  }
  L.control.scale({ imperial: false }).addTo(map);
  map.setView([22.28, 114.17], 14); // replaced by the track's bounds once drawn
  return map;
}

async function drawSite(siteId) {
  try {
    const layers = new SiteLayers(page.map);
    layers.draw(await api(`sites/${encodeURIComponent(siteId)}`));
    layers.group.eachLayer((l) => l.setStyle?.({ opacity: 0.5, fillOpacity: 0.08 }));
  } catch {
    // The site's features are context only; the track and volume still show.
  }
}

function drawEvidence(samples, volume, openedMs) {
  const bounds = [];
  if (volume?.outline) {
    const layer = L.geoJSON(volume.outline, {
      style: { color: "#1769aa", weight: 3, fillColor: "#2b8cd6", fillOpacity: 0.25, className: "inc-volume" },
    }).addTo(page.map);
    // An element, not a string: Leaflet inserts strings as HTML.
    const words = () => el("span", {}, t("incident_page.volume_label", {
      source: volumeSource(volume.source),
      floor: volume.floor_amsl_m.toFixed(0),
      ceiling: volume.ceiling_amsl_m.toFixed(0),
    }));
    layer.bindTooltip(words(), { sticky: true });
    page.tooltips.push([layer, words]);
    bounds.push(layer.getBounds());
  }
  page.samples = samples.filter((s) => Number.isFinite(s.lat_deg) && Number.isFinite(s.lon_deg));
  if (!page.samples.length) {
    $("replay-empty").hidden = false;
    if (bounds.length) page.map.fitBounds(bounds[0]);
    return;
  }
  // One polyline per run of the same state, so the colour tells inside from out.
  let run = [page.samples[0]];
  const flush = () => {
    if (run.length < 2) return;
    L.polyline(
      run.map((s) => [s.lat_deg, s.lon_deg]),
      { color: stateInfo(run[0].state).colour, weight: 4, className: `inc-track track-${run[0].state}` },
    ).addTo(page.map);
  };
  for (const s of page.samples.slice(1)) {
    run.push(s);
    if (s.state !== run[0].state) {
      flush();
      run = [s];
    }
  }
  flush();
  const track = L.latLngBounds(page.samples.map((s) => [s.lat_deg, s.lon_deg]));
  const breachIndex = Math.max(0, page.samples.findIndex((s) => Date.parse(s.t_utc) >= openedMs));
  const breach = page.samples[breachIndex];
  // Above the site's permanent labels, which would otherwise hide the marker.
  page.map.createPane("replay").style.zIndex = 660;
  const opened = L.circleMarker([breach.lat_deg, breach.lon_deg], { pane: "replay", radius: 11, color: "#b3261e", weight: 2, fill: false, className: "inc-breach" })
    .bindTooltip(t("incident_page.opened_here"))
    .addTo(page.map);
  page.tooltips.push([opened, () => t("incident_page.opened_here")]);
  page.marker = L.circleMarker([breach.lat_deg, breach.lon_deg], {
    pane: "replay",
    radius: 7,
    color: "#14202b",
    weight: 2,
    fillOpacity: 1,
    className: "inc-marker",
  }).addTo(page.map);
  page.map.fitBounds(evidenceView(track, breach));
  setUpReplay(breachIndex);
}

/** The view around the breach: the evidence track, and at least FIT_MIN_M
 * around the breach. Not the assigned volume: a long corridor (12 km to Cheung
 * Chau) would shrink the track to a dot; the volume is still drawn around it. */
const FIT_MIN_M = 300;
function evidenceView(track, breach) {
  const around = L.latLng(breach.lat_deg, breach.lon_deg).toBounds(FIT_MIN_M);
  return L.latLngBounds(track.getSouthWest(), track.getNorthEast()).extend(around).pad(0.15);
}

/** The AIS vessels heard around the incident: their tracks, and a marker each
 * that the replay moves to where the vessel was at the sample's time. */
function drawVessels(vessels) {
  page.vessels = [];
  if (!page.map) return;
  for (const v of vessels) {
    const points = (v.points || []).filter((p) => Number.isFinite(p[1]) && Number.isFinite(p[2]));
    if (!points.length) continue;
    const name = v.name || `MMSI ${v.mmsi}`;
    L.polyline(points.map((p) => [p[1], p[2]]), { pane: "replay", className: "vessel-trail", weight: 2, opacity: 0.7 })
      .bindTooltip(`${name} (AIS)`)
      .addTo(page.map);
    const marker = L.circleMarker([points[0][1], points[0][2]], {
      pane: "replay",
      radius: 6,
      color: "#1f3b73",
      weight: 2,
      fillOpacity: 0.9,
      className: "inc-vessel",
    })
      .bindTooltip(name)
      .addTo(page.map);
    page.vessels.push({ mmsi: v.mmsi, points, marker });
  }
  if (page.samples.length) showSample(Number($("replay-slider").value) || 0);
}

/** Move each vessel marker to its last report at or before ``tMs``. */
function moveVessels(tMs) {
  for (const v of page.vessels || []) {
    let at = v.points[0];
    for (const p of v.points) {
      if (p[0] * 1000 > tMs) break;
      at = p;
    }
    v.marker.setLatLng([at[1], at[2]]);
  }
}

function setUpReplay(startIndex) {
  const slider = $("replay-slider");
  slider.max = String(page.samples.length - 1);
  slider.value = String(startIndex);
  $("replay").hidden = false;
  slider.addEventListener("input", () => {
    stop();
    showSample(Number(slider.value));
  });
  $("replay-play").addEventListener("click", () => (page.timer ? stop() : play()));
  showSample(startIndex);
}

function play() {
  const slider = $("replay-slider");
  if (Number(slider.value) >= page.samples.length - 1) {
    slider.value = "0";
    showSample(0);
  }
  $("replay-play").textContent = t("incident_page.pause");
  $("replay-play").setAttribute("aria-pressed", "true");
  page.timer = setInterval(() => {
    const next = Number(slider.value) + 1;
    if (next >= page.samples.length) {
      stop();
      return;
    }
    slider.value = String(next);
    showSample(next);
  }, PLAY_STEP_MS);
}

function stop() {
  clearInterval(page.timer);
  page.timer = null;
  $("replay-play").textContent = t("ui.play");
  $("replay-play").setAttribute("aria-pressed", "false");
}

function showSample(index) {
  const s = page.samples[index];
  if (!s) return;
  const info = stateInfo(s.state);
  page.marker.setLatLng([s.lat_deg, s.lon_deg]);
  page.marker.setStyle({ fillColor: info.colour });
  moveVessels(Date.parse(s.t_utc));
  const opened = Date.parse(page.incident.opened_at);
  const offset = (Date.parse(s.t_utc) - opened) / 1000;
  const out = $("replay-readout");
  out.dataset.state = s.state || "unknown";
  out.dataset.index = String(index);
  out.style.setProperty("--pill-colour", info.colour);
  const alt = Number.isFinite(s.rel_alt_m) ? `${s.rel_alt_m.toFixed(1)} m AGL` : "";
  const amsl = Number.isFinite(s.alt_amsl_m) ? `${s.alt_amsl_m.toFixed(1)} m AMSL` : "";
  const since = t("incident_page.since_opening", { offset: `${offset >= 0 ? "+" : ""}${offset.toFixed(1)}` });
  out.replaceChildren(
    el("span", { class: "state-pill" }, info.text),
    " ",
    el("time", { datetime: s.t_utc }, `${localTime(Date.parse(s.t_utc), page.zone, true)} ${zoneAbbrev(page.zone)}`),
    ` ${[since, alt, amsl].filter(Boolean).join(" · ")}`,
  );
}

/** Write everything this page built itself again, in the language just chosen. */
function relabel() {
  if (!page.incident) return;
  showIncident(page.incident);
  renderRule(page.incident, page.evidence);
  renderExports();
  for (const [layer, words] of page.tooltips) layer.setTooltipContent(words());
  $("replay-play").textContent = t(page.timer ? "incident_page.pause" : "ui.play");
  if (page.samples.length) showSample(Number($("replay-slider").value) || 0);
}

main().catch((err) => showStatus(t("page.could_not_start", { reason: err.message }), "error"));

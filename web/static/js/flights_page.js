// A booking's flights (GET /api/v1/bookings/{id}/flights) and its pre- and
// post-flight forms (GET/PUT .../forms). The booking id comes from the path
// (/bookings/{id}/flights) or ?booking=. The API decides who sees and files what.

import { flightCharts } from "./flight_charts.js";
import { hasMessage, onLanguageChange, t, tValue } from "./i18n.js";
import { api, applyRole, el, requireUser } from "./session.js";

const $ = (id) => document.getElementById(id);
// The site's checklist comes with the forms (GET .../forms -> checklist); this
// default list is only what the page shows before that answer.
let CHECKLIST = ["fence_verified", "battery_above_minimum", "link_check", "notams_and_closures_reviewed"];
const PROCEDURES = ["rtl", "land_now", "ditching_drill", "lost_link", "flight_termination", "manual_takeover"];
const NUMBERS = ["takeoff_mass_kg", "payload_mass_kg", "wind_speed_mps", "wind_from_deg", "visibility_m", "temperature_c"];

function bookingId() {
  const match = location.pathname.match(/\/bookings\/(\d+)\/flights/);
  return match ? match[1] : new URLSearchParams(location.search).get("booking");
}

const fmt = (v, digits = 1) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));
const median = (c, ...path) => path.reduce((node, key) => (node ? node[key] : undefined), c);

function row(f, id) {
  const c = f.conditions || {};
  return el("tr", {},
    el("td", {}, f.number),
    el("td", {}, f.takeoff_local.replace("T", " ").slice(0, 19)),
    el("td", {}, `${f.takeoff_pad} → ${f.landing_pad}`),
    el("td", {}, fmt(f.flight_time_s)),
    el("td", {}, fmt(f.ground_distance_m)),
    el("td", {}, fmt(f.max_alt_agl_m)),
    el("td", {}, fmt(f.max_ground_speed_mps)),
    el("td", {}, fmt(f.battery_used_pct, 0)),
    el("td", {}, `${fmt(f.inside_s, 0)} / ${fmt(f.near_edge_s, 0)} / ${fmt(f.outside_s, 0)}`),
    el("td", {}, fmt(median(c, "gnss", "all", "hdop", "median"), 2)),
    el("td", {}, fmt(median(c, "radio", "all", "rssi", "median"), 0)),
    el("td", {}, f.incident_ids.length ? f.incident_ids.map((i) =>
      el("a", { href: `/incidents/${i}` }, `#${i} `)) : t("ui.none")),
    el("td", {}, flightCharts(id, f.number)),
  );
}

/**
 * An item's words: the catalogue's (ui.<id>) for the items it knows, marked so a
 * language switch rewrites them; a site's own item id is shown as its words.
 */
function checklistLabel(id) {
  const key = `ui.${id}`;
  if (hasMessage(key)) return el("span", { dataset: { i18n: key } }, t(key));
  return el("span", {}, id.replaceAll("_", " "));
}

function checklistBoxes(items) {
  CHECKLIST = items;
  $("checklist-items").replaceChildren(
    el("legend", { dataset: { i18n: "ui.checklist" } }, t("ui.checklist")),
    ...items.map((id) => el("label", {}, el("input", { type: "checkbox", name: id }), " ", checklistLabel(id))),
  );
}

function fill(form, body) {
  if (!body) return;
  for (const [key, value] of Object.entries(body)) {
    const input = form.elements.namedItem(key);
    if (input && "value" in input && typeof value !== "object") input.value = value ?? "";
  }
  for (const key of CHECKLIST) {
    const box = form.elements.namedItem(key);
    if (box && body.checklist) box.checked = Boolean(body.checklist[key]);
  }
  for (const key of PROCEDURES) {
    const box = form.elements.namedItem(key);
    if (box && body.emergency_procedures) box.checked = body.emergency_procedures.includes(key);
  }
}

function preBody(form) {
  const data = new FormData(form);
  const body = {};
  for (const key of ["payload_kind", "precipitation", "remote_pilot", "observer", "test_objective"]) {
    body[key] = String(data.get(key) || "");
  }
  for (const key of NUMBERS) body[key] = Number(data.get(key));
  const sea = data.get("sea_state");
  body.sea_state = sea === "" || sea === null ? null : Number(sea);
  body.checklist = Object.fromEntries(CHECKLIST.map((k) => [k, data.get(k) !== null]));
  return body;
}

function postBody(form) {
  const data = new FormData(form);
  return {
    result: String(data.get("result")),
    emergency_procedures: PROCEDURES.filter((k) => data.get(k) !== null),
    remarks: String(data.get("remarks") || ""),
  };
}

function wire(form, status, kind, id, build) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = t("forms.saving");
    try {
      const saved = await api(`bookings/${id}/forms/${kind}`, { method: "PUT", body: build(form) });
      status.textContent = t("forms.saved", { version: saved.version, user: saved.submitted_by });
    } catch (err) {
      // The rule in words; in Chinese the API's message may be those same words.
      const rule = err.body?.rule ? tValue("rule", err.body.rule) : "";
      const message = err.message;
      status.textContent = rule && rule !== message ? t("forms.refused_rule", { rule, message }) : t("forms.refused", { message });
    }
  });
}

async function main() {
  const user = await requireUser();
  applyRole(user);
  const id = bookingId();
  if (!id) {
    $("flights-status").textContent = t("flights.no_booking");
    return;
  }
  $("flights-title").textContent = t("flights.title", { id });
  $("flights-csv").addEventListener("click", async (event) => {
    // A plain link would not carry the bearer token: fetch, then save the blob.
    event.preventDefault();
    const response = await api(`bookings/${id}/flights?format=csv`, { raw: true });
    const link = el("a", { href: URL.createObjectURL(await response.blob()), download: `booking-${id}-flights.csv` });
    link.click();
    URL.revokeObjectURL(link.href);
  });
  const [flights, forms] = await Promise.all([
    api(`bookings/${id}/flights`),
    api(`bookings/${id}/forms`),
  ]);
  const list = flights.flights || [];
  const render = () => {
    $("flights-title").textContent = t("flights.title", { id });
    $("flights-status").textContent = list.length
      ? t("flights.detected", { count: list.length, landed_s: flights.landed_end_s })
      : t("flights.none");
    $("flights-table").hidden = list.length === 0;
    $("flights-rows").replaceChildren(...list.map((f) => row(f, id)));
  };
  render();
  onLanguageChange(render);
  if (forms.checklist) checklistBoxes(forms.checklist);
  fill($("pre-form"), forms.pre_flight && forms.pre_flight.body);
  fill($("post-form"), forms.post_flight && forms.post_flight.body);
  wire($("pre-form"), $("pre-status"), "pre_flight", id, preBody);
  wire($("post-form"), $("post-status"), "post_flight", id, postBody);
}

main().catch((err) => {
  $("flights-status").textContent = t("flights.could_not_load", { reason: err.message });
});

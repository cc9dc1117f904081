// Refusals in words: turn the API's error bodies (rule, message, ids) into what a
// person booking a slot needs to read -- what clashed, with what, and what to try.

import { spanLabel } from "./time.js";

const ADVICE = {
  pad_booked:
    "A pad takes one drone at a time, with its turnaround before and after. Pick another pad, or a time outside the grey and blue blocks on that pad's row.",
  corridor_capacity:
    "The corridor already holds as many drones as it may at once in part of that window. Pick another corridor or a time when its row is not dark grey.",
  drone_busy: "A drone can be in one booking at a time. Pick another drone, or move this booking so the two do not overlap.",
  closure: "The site has closed that pad, corridor or area for part of the window (red hatched on the timeline). Pick another time or resource.",
  concurrent_write: "Someone else changed the schedule at the same moment. Nothing was booked; try again.",
  opening_hours: "Bookings must lie within the site's opening hours (the unshaded part of the timeline).",
  horizon: "Bookings can only be made so far ahead. Pick an earlier date.",
  in_past: "The window has already started or passed. Pick a time in the future.",
  max_duration: "The window is longer than the site allows for one booking. Split it into shorter bookings.",
  window: "The end must be after the start.",
  resources: "Pick at least a pad or a corridor.",
  pad_mass: "The drone is heavier than that pad allows. Pick a pad rated for its take-off mass.",
  drone_site: "The drone is registered at another site.",
  booking_quota: "Your organisation already holds as many pending or approved bookings as the site allows. Cancel one you no longer need, or wait until one has flown.",
  drone: "That drone cannot be booked.",
  transition: "The booking is no longer in a state that allows this; reload to see its current state.",
  permission: "Your role or organisation may not do this.",
  not_found: "It may have been removed, or it belongs to another organisation.",
};

const TITLE = {
  pad_booked: "Pad already booked",
  corridor_capacity: "Corridor full",
  drone_busy: "Drone already booked",
  closure: "Closed",
  concurrent_write: "Booked by someone else at the same moment",
  opening_hours: "Outside opening hours",
  horizon: "Too far ahead",
  booking_quota: "Booking quota reached",
  in_past: "In the past",
  max_duration: "Too long",
  window: "Window not valid",
  resources: "Nothing to book",
  pad_mass: "Drone too heavy for the pad",
  transition: "Not possible any more",
  permission: "Not allowed",
  not_found: "Not found",
};

function sentence(text) {
  const t = String(text).trim();
  if (!t) return "";
  return t[0].toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? "" : ".");
}

/**
 * Return {title, lines[]} explaining a refused request.
 * `err` is an ApiError; `known` maps booking id -> booking the user can see, so the
 * clashing bookings are described by drone, resources and local time.
 */
export function explainRefusal(err, { known = new Map(), timeZone = "UTC", action = "Booking" } = {}) {
  const body = err.body && typeof err.body === "object" ? err.body : {};
  if (err.status === 422 && Array.isArray(body.detail)) {
    return {
      title: `${action} refused: some fields are not valid`,
      lines: body.detail.map((d) => sentence(`${fieldName(d.loc)}: ${d.msg}`)),
    };
  }
  const rule = body.rule;
  const lines = [];
  if (body.message || typeof body.detail === "string") lines.push(sentence(body.message || body.detail));
  for (const id of body.booking_ids || []) {
    const b = known.get(id);
    if (b) {
      const what = [b.takeoff_pad_id && `pad ${b.takeoff_pad_id}`, b.corridor_id && `corridor ${b.corridor_id}`]
        .filter(Boolean)
        .join(", ");
      lines.push(`Booking #${id} holds it: drone ${b.drone_id}${what ? `, ${what}` : ""}, ${spanLabel(b.start, b.end, timeZone)} (${b.state}).`);
    } else if (rule !== "transition") {
      lines.push(`Booking #${id} holds it (another organisation's booking: its details are not shown to you).`);
    }
  }
  for (const id of body.closure_ids || []) lines.push(`Closure #${id} covers that time.`);
  if (ADVICE[rule]) lines.push(ADVICE[rule]);
  if (!lines.length) lines.push(sentence(err.message || `The server answered ${err.status}`));
  const reason = TITLE[rule] || (err.status === 409 ? "conflict" : `error ${err.status}`);
  return { title: `${action} refused — ${reason.toLowerCase()}`, lines };
}

function fieldName(loc) {
  const parts = (loc || []).filter((p) => p !== "body");
  return parts.join(".").replaceAll("_", " ") || "request";
}

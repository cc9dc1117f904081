// The live stream's events and incidents as sentences in the page language, built
// from the codes and numbers the frames carry (docs/live-stream.md). The server's
// own `message` is English, for logs and exports; a page shows it only for a kind
// this catalogue does not know yet.

import { stateInfo } from "./drone_layer.js";
import { hasMessage, t, tValue } from "./i18n.js";

const num = (v, digits = 1) => (typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : "–");

/** Return the words for an event or incident kind (an incident's words first). */
export function kindText(kind) {
  if (!kind) return t("says.kind.event");
  return hasMessage(`incident.kind.${kind}`) ? tValue("incident.kind", kind) : tValue("says.kind", kind);
}

/** Return who a frame is about: the drone's name, else its id, else its system id. */
export function whoOf(name, droneId, sysid) {
  return name || droneId || t("says.unregistered", { sysid: sysid ?? "?" });
}

/**
 * Return why a fence upload ended as it did, in the page language: the report's
 * (or event's) `reason_code` with its `reason_params` (fence.reason.<code>), or the
 * server's English `reason` for a report stored before codes.
 */
export function fenceReason(report) {
  const code = report?.reason_code;
  if (code && hasMessage(`fence.reason.${code}`)) return t(`fence.reason.${code}`, report.reason_params || {});
  return report?.reason || "";
}

function vessel(details) {
  return details.vessel_name || `MMSI ${details.mmsi ?? "?"}`;
}

/** The catalogue key and parameters of an event's sentence, or null for a kind not known here. */
function eventMessage(event, who, corridor) {
  const d = event.details || {};
  const kind = event.kind;
  const p = { who, corridor };
  if (d.breach && d.breach === kind) {
    // An open breach became a worse one: the frame's kind is the new breach.
    return ["escalated", { who, breach: kindText(kind) }];
  }
  switch (kind) {
    case "near_edge":
      return [kind, { ...p, distance: num(d.lateral_distance_m) }];
    case "predicted_exit":
      return [kind, { ...p, seconds: num(d.seconds_to_exit) }];
    case "corridor_exit_lateral":
      return [kind, { ...p, distance: num(-d.lateral_distance_m) }];
    case "corridor_exit_vertical": {
      const side = { above: "corridor_exit_above", below: "corridor_exit_below" }[d.side] || kind;
      return [side, { ...p, distance: num(-d.vertical_distance_m) }];
    }
    case "boundary_exit":
    case "link_restored":
    case "fence_breach":
      return [kind, p];
    case "exclusion_entry":
      return [kind, { ...p, exclusion: d.exclusion || "?" }];
    case "unbooked_flight":
      return [event.drone_id ? kind : "unregistered_flight", p];
    case "returned":
      return [kind, { ...p, breach: kindText(d.breach) }];
    case "link_lost":
      return [kind, { ...p, seconds: num(d.silent_s) }];
    case "low_battery":
      return [kind, { ...p, battery: d.battery_pct ?? "–" }];
    case "fence_disagreement":
      return [kind, { ...p, autopilot: tValue("says.fence", d.autopilot), skyberth: stateInfo(d.skyberth).text, seconds: num(d.for_s) }];
    case "fence_mismatch":
    case "fence_refused":
    case "fence_not_verified":
      return [kind, { ...p, booking: d.booking_id ?? "?", reason: fenceReason(d) }];
    case "spoofed_frames":
      return [kind, { count: Number(d.frames) || 0, sysid: event.sysid ?? "?" }];
    case "vessel_proximity":
      return [kind, { ...p, vessel: vessel(d), dcpa: num(d.dcpa_m, 0), tcpa: num(Math.max(d.tcpa_s, 0), 0), range: num(d.range_m, 0) }];
    case "vessel_separation_breach":
      return [kind, { ...p, vessel: vessel(d), range: num(d.range_m, 0) }];
    case "vessel_in_corridor":
      return [kind, { vessel: vessel(d), corridor: d.corridor_id || corridor }];
    default:
      return null;
  }
}

/**
 * Return an `event` frame's event as a sentence. `who` names the drone (see
 * `whoOf`); `corridor` is the corridor it is bound to, when the page knows it.
 */
export function eventSentence(event, who, corridor = "–") {
  const message = eventMessage(event, who, corridor || "–");
  if (!message) return event.message || kindText(event.kind);
  const [key, params] = message;
  return t(`says.event.${key}`, params);
}

/** Return an incident (a live `incident` frame or a stored one) as a sentence. */
export function incidentSentence(incident, who) {
  const key = `says.incident.${incident.kind}`;
  if (!hasMessage(key)) return incident.message || kindText(incident.kind);
  return t(key, { who, corridor: incident.corridor_id || "–", sysid: incident.sysid ?? "?" });
}

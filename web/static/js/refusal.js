// Refusals in words: turn the API's error bodies (rule, message, ids) into what a
// person booking a slot needs to read -- what clashed, with what, and what to try.
// The title names the rule with the catalogue's rule.<rule> (the words the API's
// own `message` uses in Chinese); the advice is refusal.advice.<rule>.

import { fieldName, fieldProblem } from "./field_errors.js";
import { currentLanguage, t, tValue } from "./i18n.js";
import { spanLabel } from "./time.js";

/** The rules the page has advice for (refusal.advice.<rule>). */
const ADVICE = new Set([
  "pad_booked",
  "corridor_capacity",
  "drone_busy",
  "closure",
  "concurrent_write",
  "opening_hours",
  "horizon",
  "in_past",
  "max_duration",
  "window",
  "resources",
  "pad_mass",
  "drone_site",
  "booking_quota",
  "drone",
  "transition",
  "permission",
  "not_found",
]);

/** Return what booking `b` holds: "pads P1 → P2, corridor C1", or "" for nothing. */
export function bookingResources(b) {
  const takeoff = b.takeoff_pad_id;
  const landing = b.landing_pad_id;
  const pads =
    takeoff && landing && takeoff !== landing
      ? t("bookings.res.pads", { takeoff, landing })
      : takeoff || landing
        ? t("bookings.res.pad", { pad: takeoff || landing })
        : "";
  const corridor = b.corridor_id ? t("timeline.corridor", { corridor: b.corridor_id }) : "";
  return pads && corridor ? t("bookings.res.pads_and_corridor", { pads, corridor }) : pads || corridor;
}

const CJK_END = /[\u3000-\u9fff\uff00-\uffef]$/;

function sentence(text) {
  const s = String(text).trim();
  if (!s) return "";
  if (/[.!?。！？]$/.test(s)) return s[0].toUpperCase() + s.slice(1);
  return s[0].toUpperCase() + s.slice(1) + (CJK_END.test(s) ? "。" : ".");
}

/** "Pad already booked" -> "pad already booked" (an acronym such as MAVLink stays). */
const lowerFirst = (s) => (/^[A-Z][a-z]/.test(s) ? s[0].toLowerCase() + s.slice(1) : s);

/**
 * Return {title, lines[]} explaining a refused request.
 * `err` is an ApiError; `known` maps booking id -> booking the user can see, so the
 * clashing bookings are described by drone, resources and local time. `action` is
 * what was refused: booking, closure, approve, reject, cancel, complete or delete.
 */
export function explainRefusal(err, { known = new Map(), timeZone = "UTC", action = "booking" } = {}) {
  const body = err.body && typeof err.body === "object" ? err.body : {};
  const what = tValue("refusal.action", action);
  // The API's messages are in the language the page had when it asked; after a
  // switch the page words what it can itself (codes and values).
  const answeredIn = err.language || currentLanguage();
  const fresh = answeredIn === currentLanguage();
  if (err.status === 422 && Array.isArray(body.detail)) {
    return {
      title: t("refusal.invalid_fields", { action: what }),
      lines: body.detail.map((d) => sentence(t("refusal.field_error", { field: fieldName(d.loc), message: fieldProblem(d, answeredIn) }))),
    };
  }
  const rule = body.rule;
  const ruleTitle = rule ? tValue("rule", rule) : "";
  const lines = [];
  const detail = typeof body.detail === "string" ? body.detail : "";
  // English: the domain's own message (the detail); Chinese: the rule's words,
  // which the title already says.
  const message = fresh ? body.message || detail : currentLanguage() === "en" ? detail : "";
  // In Chinese the API's message is the rule's own title: say it once.
  if (message && message !== ruleTitle) lines.push(sentence(message));
  for (const id of body.booking_ids || []) {
    const b = known.get(id);
    if (b) {
      const resources = bookingResources(b);
      const params = {
        id,
        drone: b.drone_id,
        resources,
        span: spanLabel(b.start, b.end, timeZone),
        state: tValue("booking.state", b.state),
      };
      lines.push(t(resources ? "refusal.held_by" : "refusal.held_by_drone", params));
    } else if (rule !== "transition") {
      lines.push(t("refusal.held_by_other", { id }));
    }
  }
  for (const id of body.closure_ids || []) lines.push(t("refusal.closure_covers", { id }));
  if (ADVICE.has(rule)) lines.push(t(`refusal.advice.${rule}`));
  if (!lines.length) lines.push(sentence(err.message || t("error.server_answered", { status: err.status })));
  const reason = ruleTitle || (err.status === 409 ? t("refusal.conflict") : t("refusal.error_status", { status: err.status }));
  return { title: t("refusal.title", { action: what, reason: lowerFirst(reason) }), lines };
}

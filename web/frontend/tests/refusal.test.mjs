import assert from "node:assert/strict";
import { test } from "node:test";

import "./catalogue.mjs";
import { bookingResources, explainRefusal } from "../../static/js/refusal.js";

const HK = "Asia/Hong_Kong";

function refused(status, body) {
  return { status, body, message: body.message || "" };
}

test("a pad conflict names the booking that holds it, in site time", () => {
  const known = new Map([[41, { id: 41, drone_id: "d1", takeoff_pad_id: "P2", corridor_id: "C1", start: "2026-11-24T02:00:00Z", end: "2026-11-24T02:30:00Z", state: "approved" }]]);
  const { title, lines } = explainRefusal(
    refused(409, { rule: "pad_booked", message: "pad P2 already booked 2026-11-24 02:00-02:30Z by booking 41", booking_ids: [41], closure_ids: [] }),
    { known, timeZone: HK },
  );
  assert.equal(title, "Booking refused — pad already booked");
  assert.equal(lines[0], "Pad P2 already booked 2026-11-24 02:00-02:30Z by booking 41.");
  assert.match(lines[1], /^Booking #41 holds it: drone d1, pad P2, corridor C1, Tue 24 Nov 10:00–10:30 .* \(approved\)\.$/);
  assert.match(lines[2], /Pick another pad/);
});

test("another organisation's booking is mentioned without details", () => {
  const { lines } = explainRefusal(refused(409, { rule: "corridor_capacity", message: "corridor C3 is full", booking_ids: [7], closure_ids: [] }));
  assert.ok(lines.some((l) => l.includes("Booking #7 holds it (another organisation's booking")));
});

test("a closure and a field error read as sentences", () => {
  const closure = explainRefusal(refused(409, { rule: "closure", message: "pad P3 closed", booking_ids: [], closure_ids: [3] }));
  assert.equal(closure.title, "Booking refused — closed");
  assert.ok(closure.lines.includes("Closure #3 covers that time."));
  const invalid = explainRefusal(refused(422, { detail: [{ loc: ["body", "start"], msg: "Input should have timezone info" }] }));
  assert.deepEqual(invalid.lines, ["Start: Input should have timezone info."]);
});

test("a booking's pads and corridor in words, both pads when they differ", () => {
  assert.equal(bookingResources({ takeoff_pad_id: "P1", landing_pad_id: "P2", corridor_id: "C1" }), "pads P1 → P2, corridor C1");
  assert.equal(bookingResources({ takeoff_pad_id: "P1", landing_pad_id: "P1" }), "pad P1");
  assert.equal(bookingResources({ corridor_id: "C3" }), "corridor C3");
  assert.equal(bookingResources({}), "");
});

test("the refused action is named, and a message that only repeats the title is left out", () => {
  const { title, lines } = explainRefusal(refused(409, { rule: "pad_booked", message: "Pad already booked", booking_ids: [], closure_ids: [] }), { action: "closure" });
  assert.equal(title, "Closure refused — pad already booked");
  assert.ok(!lines.includes("Pad already booked."));
  assert.match(lines[0], /Pick another pad/);
  assert.equal(explainRefusal(refused(403, {}), { action: "delete" }).title, "Deletion refused — error 403");
});

test("a rule's title keeps an acronym's capitals", () => {
  assert.equal(explainRefusal(refused(409, { rule: "signing" })).title, "Booking refused — MAVLink signing required");
});

test("a field error in an area's vertices names the field and counts from one", () => {
  const invalid = explainRefusal(
    refused(422, { detail: [{ loc: ["body", "area_hk1980", "coordinates", 0], msg: "List should have at least 4 items" }] }),
    { action: "closure" },
  );
  assert.equal(invalid.title, "Closure refused: some fields are not valid");
  assert.deepEqual(invalid.lines, ["Area (HK1980 Grid) › vertices › 1: List should have at least 4 items."]);
});

test("an area check the catalogue knows is worded from its code and values", () => {
  const { lines } = explainRefusal(
    refused(422, {
      detail: [
        { loc: ["body", "area_hk1980"], type: "hk1980_position", msg: "position (114.1, 22.2) is not in the HK1980 Grid", ctx: { easting: 114.1, northing: 22.2 } },
        { loc: ["body", "start"], type: "timezone_aware", msg: "Input should have timezone info" },
      ],
    }),
    { action: "closure" },
  );
  assert.match(lines[0], /^Area \(HK1980 Grid\): position \(114\.1, 22\.2\) is not in the HK1980 Grid over Hong Kong: .* or choose WGS84 degrees\.$/);
  assert.equal(lines[1], "Start: must give its time zone (Z or an offset such as +08:00).");
});

test("a field's problem is the API's message when it gives one (in the page language)", () => {
  const { lines } = explainRefusal(
    refused(422, {
      detail: [
        { loc: ["body", "drone_id"], type: "missing", msg: "Field required", message: "必須填寫" },
        { loc: ["body", "reason"], type: "no_such_type", msg: "Something odd" },
      ],
    }),
  );
  assert.deepEqual(lines, ["Drone: 必須填寫。", "Reason: Something odd."]);
});

test("after a language switch the page words a refusal itself, not in the answer's language", () => {
  // Asked in Chinese, shown now in English: the API's Chinese messages are set aside.
  const stale = (status, body) => ({ ...refused(status, body), language: "zh-Hant-HK" });
  const invalid = explainRefusal(
    stale(422, { detail: [{ loc: ["body", "start"], type: "timezone_aware", msg: "Input should have timezone info", message: "須註明時區" }] }),
  );
  assert.deepEqual(invalid.lines, ["Start: must give its time zone (Z or an offset such as +08:00)."]);
  const clash = explainRefusal(stale(409, { rule: "pad_booked", message: "升降坪已被預約", detail: "pad P2 already booked", booking_ids: [], closure_ids: [] }));
  assert.equal(clash.lines[0], "Pad P2 already booked.");
  assert.ok(!clash.lines.some((l) => l.includes("升降坪")));
});

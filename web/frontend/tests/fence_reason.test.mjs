import assert from "node:assert/strict";
import { test } from "node:test";

import "./catalogue.mjs";
import { eventSentence, fenceReason } from "../../static/js/event_sentences.js";

test("a fence report's reason is worded from its code and values", () => {
  const report = {
    reason: "the vehicle stores another fence (item 0: vertex 22.1,114.1 stored, 22.2,114.1 sent)",
    reason_code: "mismatch_vertex",
    reason_params: { item: 0, stored: "22.1,114.1", sent: "22.2,114.1" },
  };
  assert.equal(fenceReason(report), "the drone stores another fence (item 0: vertex 22.1,114.1 stored, 22.2,114.1 sent)");
  assert.equal(fenceReason({ reason: "38 items read back identical", reason_code: "identical", reason_params: { items: 38 } }), "38 items read back identical");
});

test("a report stored before codes, or with a code not known here, shows the server's words", () => {
  assert.equal(fenceReason({ reason: "vehicle answered MAV_MISSION_ERROR", reason_code: "" }), "vehicle answered MAV_MISSION_ERROR");
  assert.equal(fenceReason({ reason: "something new", reason_code: "from_a_newer_server" }), "something new");
  assert.equal(fenceReason(undefined), "");
});

test("a fence warning on the live map says the reason in the page's words", () => {
  const event = {
    kind: "fence_refused",
    details: { booking_id: 7, reason: "vehicle answered MAV_MISSION_ERROR", reason_code: "vehicle_answered", reason_params: { result: "MAV_MISSION_ERROR" } },
  };
  assert.equal(eventSentence(event, "Kite-7", "C1"), "Kite-7: the drone refused the fence of booking 7 (the drone answered MAV_MISSION_ERROR)");
});

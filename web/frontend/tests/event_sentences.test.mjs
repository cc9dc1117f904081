import assert from "node:assert/strict";
import { test } from "node:test";

import { stateInfo } from "../../static/js/drone_layer.js";
import { eventSentence, whoOf } from "../../static/js/event_sentences.js";

// Outside a browser the catalogue is empty and t() answers with the key itself:
// these tests see which sentence each event gets, not its words.
const say = (event) => eventSentence({ details: {}, ...event }, "Kite-7", "C1");

test("a vertical exit says through which side the drone left its band", () => {
  const exit = { kind: "corridor_exit_vertical", details: { vertical_distance_m: -4 } };
  assert.equal(say({ ...exit, details: { ...exit.details, side: "above" } }), "says.event.corridor_exit_above");
  assert.equal(say({ ...exit, details: { ...exit.details, side: "below" } }), "says.event.corridor_exit_below");
  assert.equal(say(exit), "says.event.corridor_exit_vertical"); // an older server: no side
});

test("an escalated breach is told apart from a first one by its details", () => {
  assert.equal(say({ kind: "boundary_exit" }), "says.event.boundary_exit");
  assert.equal(say({ kind: "boundary_exit", details: { breach: "boundary_exit", breach_started_s: 1 } }), "says.event.escalated");
  assert.equal(say({ kind: "returned", details: { breach: "boundary_exit" } }), "says.event.returned");
});

test("an unregistered drone in the air is not called a drone without a booking", () => {
  assert.equal(say({ kind: "unbooked_flight", drone_id: "D1" }), "says.event.unbooked_flight");
  assert.equal(say({ kind: "unbooked_flight", drone_id: null }), "says.event.unregistered_flight");
});

test("a kind this page does not know shows the server's message, else its code in words", () => {
  assert.equal(say({ kind: "solar_flare", message: "Kite-7: solar flare" }), "Kite-7: solar flare");
  assert.equal(say({ kind: "solar_flare" }), "solar flare");
});

test("a drone is named by its name, else its id, else its system id", () => {
  assert.equal(whoOf("Kite-7", "D7", 42), "Kite-7");
  assert.equal(whoOf(null, "D7", 42), "D7");
  assert.equal(whoOf(undefined, null, 42), "says.unregistered");
});

test("a state the page does not know gets the unknown colour, even one named like a property", () => {
  assert.equal(stateInfo("outside_lateral").colour, "#d7191c");
  assert.equal(stateInfo("toString").colour, stateInfo("no_such_state").colour);
  assert.equal(stateInfo(undefined).text, "drone.state.unknown");
});

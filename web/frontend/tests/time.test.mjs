// Unit tests of the pages' pure helpers, with node's own test runner (no packages).
import assert from "node:assert/strict";
import { test } from "node:test";

import { addDays, localDate, localTime, localToUtcMs, mondayOf, offsetMinutes, spanLabel } from "../../static/js/time.js";

const HK = "Asia/Hong_Kong";

test("Hong Kong is 8 hours ahead of UTC all year", () => {
  assert.equal(offsetMinutes(HK, Date.UTC(2026, 0, 15, 12)), 480);
  assert.equal(offsetMinutes(HK, Date.UTC(2026, 6, 15, 12)), 480);
});

test("a site-local date and time become the right UTC instant", () => {
  assert.equal(new Date(localToUtcMs("2026-11-24", "10:00", HK)).toISOString(), "2026-11-24T02:00:00.000Z");
  assert.equal(new Date(localToUtcMs("2026-11-24", "07:30", HK)).toISOString(), "2026-11-23T23:30:00.000Z");
});

test("local wall clock across a daylight-saving change", () => {
  const zone = "Europe/London"; // clocks went forward 2026-03-29 01:00 UTC
  assert.equal(new Date(localToUtcMs("2026-03-29", "00:30", zone)).toISOString(), "2026-03-29T00:30:00.000Z");
  assert.equal(new Date(localToUtcMs("2026-03-29", "03:00", zone)).toISOString(), "2026-03-29T02:00:00.000Z");
});

test("local date and time of an instant", () => {
  const ms = Date.parse("2026-11-23T17:05:09Z");
  assert.equal(localDate(ms, HK), "2026-11-24");
  assert.equal(localTime(ms, HK), "01:05");
  assert.equal(localTime(ms, HK, true), "01:05:09");
});

test("calendar arithmetic crosses months and finds Mondays", () => {
  assert.equal(addDays("2026-11-30", 1), "2026-12-01");
  assert.equal(addDays("2026-03-01", -1), "2026-02-28");
  assert.equal(mondayOf("2026-11-29"), "2026-11-23"); // a Sunday
  assert.equal(mondayOf("2026-11-23"), "2026-11-23");
});

test("a window is labelled in site time", () => {
  const label = spanLabel("2026-11-24T02:00:00Z", "2026-11-24T02:30:00Z", HK);
  assert.match(label, /^Tue 24 Nov 10:00–10:30 /);
});

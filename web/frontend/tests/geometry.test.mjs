import assert from "node:assert/strict";
import { test } from "node:test";

import { bandLabel, corridorLatLngs } from "../../static/js/site_layers.js";
import { complement } from "../../static/js/timeline.js";

const LINE = { type: "LineString", coordinates: [[114.0, 22.0], [114.01, 22.0]] };
const OUTLINE = {
  type: "Polygon",
  coordinates: [[[114.0, 21.9995], [114.01, 21.9995], [114.0105, 22.0], [114.01, 22.0005], [114.0, 22.0005], [114.0, 21.9995]]],
};

test("a centre-line corridor is drawn from the server's outline, not re-buffered", () => {
  const rings = corridorLatLngs({ outline: OUTLINE, half_width_m: 50 }, LINE);
  assert.deepEqual(rings, [OUTLINE.coordinates[0].map(([lon, lat]) => [lat, lon])]);
});

test("a centre line without an outline is not drawn", () => {
  assert.equal(corridorLatLngs({ half_width_m: 50 }, LINE), null);
});

test("a polygon corridor is drawn as it is", () => {
  assert.deepEqual(corridorLatLngs({}, OUTLINE), [OUTLINE.coordinates[0].map(([lon, lat]) => [lat, lon])]);
});

test("altitude bands read with units and reference", () => {
  assert.equal(bandLabel({ floor_m: 20, ceiling_m: 60, alt_ref: "AGL" }), "20–60 m AGL");
  assert.equal(bandLabel({ floor_m: 0, ceiling_m: 30.5, alt_ref: "AMSL" }), "0–30.5 m AMSL");
  assert.equal(bandLabel({}), null);
});

test("closed hours are the gaps between opening intervals", () => {
  assert.deepEqual(complement([[10, 20], [30, 40]], 0, 50), [[0, 10], [20, 30], [40, 50]]);
  assert.deepEqual(complement([], 0, 5), [[0, 5]]);
  assert.deepEqual(complement([[0, 50]], 0, 50), []);
});

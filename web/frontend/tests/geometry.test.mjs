import assert from "node:assert/strict";
import { test } from "node:test";

import { bandLabel, bufferLine } from "../../static/js/site_layers.js";
import { complement } from "../../static/js/timeline.js";

const M_PER_DEG_LAT = 110_574;

test("a straight corridor is buffered half its width each side", () => {
  const ring = bufferLine([[114.0, 22.0], [114.01, 22.0]], 50); // east-west line
  assert.equal(ring.length, 4);
  const lats = ring.map(([lat]) => lat);
  const widthM = (Math.max(...lats) - Math.min(...lats)) * M_PER_DEG_LAT;
  assert.ok(Math.abs(widthM - 100) < 0.01, `width ${widthM} m`);
});

test("a bend is mitred so the corridor keeps its width", () => {
  const ring = bufferLine([[114.0, 22.0], [114.01, 22.0], [114.01, 22.01]], 40);
  assert.equal(ring.length, 6);
  const [outerLat, outerLon] = ring[1]; // left side at the corner
  const kx = 111_320 * Math.cos((22.0 * Math.PI) / 180);
  const dxM = (outerLon - 114.01) * kx;
  const dyM = (outerLat - 22.0) * M_PER_DEG_LAT;
  assert.ok(Math.abs(Math.abs(dxM) - 40) < 0.5 && Math.abs(Math.abs(dyM) - 40) < 0.5, `${dxM}, ${dyM}`);
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

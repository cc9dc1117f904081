// Unit tests of the closure form's vertex reader (vertex_list.js parseVertices).
import assert from "node:assert/strict";
import { test } from "node:test";

import { HK1980, parseVertices, WGS84 } from "../../static/js/vertex_list.js";

test("lines of lon, lat become a closed ring in that order", () => {
  const { ring } = parseVertices("114.128, 22.26\n114.131 22.26\n\n114.131;22.263\n", WGS84);
  assert.deepEqual(ring, [[114.128, 22.26], [114.131, 22.26], [114.131, 22.263], [114.128, 22.26]]);
});

test("a ring typed closed is not closed twice", () => {
  const { ring } = parseVertices("831000 813000\n831600 813000\n831600 813600\n831000 813000", HK1980);
  assert.equal(ring.length, 4);
  assert.deepEqual(ring[0], ring[3]);
});

test("the map readout's lines read in either system, latitude first by its letters", () => {
  const degrees = parseVertices("22.260600° N, 114.128900° E\n22.2606 N 114.1319 E\n22.2636° N, 114.1319° E", WGS84);
  assert.deepEqual(degrees.ring[0], [114.1289, 22.2606]);
  assert.deepEqual(parseVertices("1.5° S, 36.8° E\n1 S 37 E\n2 S 37 E", WGS84).ring[0], [36.8, -1.5]);
  const grid = parseVertices("HK1980 E 831323.2 N 813533.6\nN 813533.6 E 831923.2\nE 831923.2 N 814133.6", HK1980);
  assert.deepEqual(grid.ring.slice(0, 2), [[831323.2, 813533.6], [831923.2, 813533.6]]);
});

test("a line that is not two numbers is named, counting blank lines", () => {
  assert.deepEqual(parseVertices("114.1 22.2\n\n114.2 x22.2\n", WGS84), { error: "line", line: 3, text: "114.2 x22.2" });
  assert.deepEqual(parseVertices("831000 813000 5", HK1980), { error: "line", line: 1, text: "831000 813000 5" });
  assert.equal(parseVertices("22.26 N 22.27 S\n1 2\n3 4", WGS84).error, "line"); // two latitudes
});

test("fewer than three distinct vertices is too few", () => {
  assert.deepEqual(parseVertices("1 2\n3 4\n1 2", WGS84), { error: "too_few" });
  assert.deepEqual(parseVertices("", HK1980), { error: "too_few" });
});

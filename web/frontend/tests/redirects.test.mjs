import assert from "node:assert/strict";
import { test } from "node:test";

import { sameOriginPath } from "../../static/js/redirects.js";

const ORIGIN = "https://skyberth.example:8443";

test("a path on this server is kept with its query and fragment", () => {
  assert.equal(sameOriginPath("/incidents/4?x=1#t", ORIGIN), "/incidents/4?x=1#t");
  assert.equal(sameOriginPath("/map", ORIGIN), "/map");
});

test("anything that leaves the origin falls back to the map", () => {
  for (const next of [
    "//evil.example/",
    "/\\evil.example",
    "/\t/evil.example",
    "/\\/evil.example",
    "https://evil.example/map",
    "https:evil.example",
    "javascript:alert(1)",
    "map",
    "",
    null,
  ]) {
    assert.equal(sameOriginPath(next, ORIGIN), "/map", String(next));
  }
});

// Unit tests of the live map's label stacking (label_layout.js stackOffsets).
import assert from "node:assert/strict";
import { test } from "node:test";

import { stackOffsets } from "../../static/js/label_layout.js";

const overlap = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

test("labels that do not touch keep their places", () => {
  assert.deepEqual(stackOffsets([{ x: 0, y: 0, w: 40, h: 14 }, { x: 100, y: 0, w: 40, h: 14 }]), [0, 0]);
});

test("the first label stays and the second moves the least way out", () => {
  const dy = stackOffsets([{ x: 0, y: 0, w: 40, h: 14 }, { x: 10, y: 4, w: 40, h: 14 }]);
  assert.deepEqual(dy, [0, 12]); // below: 14 + 2 - 4; above would be -20
});

test("a pile of labels on one spot ends with none covering another", () => {
  const boxes = Array.from({ length: 6 }, (_, i) => ({ x: i * 3, y: i, w: 50, h: 14 }));
  const dy = stackOffsets(boxes);
  const moved = boxes.map((b, i) => ({ ...b, y: b.y + dy[i] }));
  for (let i = 0; i < moved.length; i += 1) {
    for (let j = i + 1; j < moved.length; j += 1) assert.ok(!overlap(moved[i], moved[j]), `${i} and ${j}`);
  }
});

test("a label moves off a marker it would cover", () => {
  const [dy] = stackOffsets([{ x: 0, y: 0, w: 40, h: 14 }], [{ x: 10, y: 10, w: 24, h: 24 }]);
  assert.equal(dy, -6); // above the marker: 10 - 14 - 2, nearer than below (+36)
});

// Labels on the live map that would cover each other (pads and drones near the
// pier) are moved apart: each label keeps its place if it is free, else it is
// stacked just above or below the labels already placed, whichever moves it
// least. Pure layout (stackOffsets) apart from the DOM pass (LabelDeclutter).

const GAP_PX = 2;

/**
 * Vertical offsets (px) that keep boxes from overlapping.
 * boxes: [{x, y, w, h}] in screen pixels, in priority order (the first never moves).
 * obstacles: boxes that never move and that no label may cover (drone arrows).
 * Return one dy per box; box i drawn at y + dy[i] overlaps no other moved box
 * and no obstacle (when no offset can avoid them all, it stays put).
 */
export function stackOffsets(boxes, obstacles = []) {
  const placed = [...obstacles];
  const overlaps = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  return boxes.map((box) => {
    const candidates = [0];
    for (const p of placed) {
      candidates.push(p.y + p.h + GAP_PX - box.y, p.y - box.h - GAP_PX - box.y);
    }
    candidates.sort((a, b) => Math.abs(a) - Math.abs(b) || a - b);
    const dy = candidates.find((d) => !placed.some((p) => overlaps({ ...box, y: box.y + d }, p))) ?? 0;
    placed.push({ ...box, y: box.y + dy });
    return dy;
  });
}

/**
 * Moves the map's labels (elements matching `selectors`, in that order of
 * priority: pads before drones) apart with the CSS `translate` property, which Leaflet's own
 * `transform` positioning leaves alone, and off the `obstacles` (markers).
 * Run on every move and zoom and, as drones move, at most every `everyMs`.
 */
export class LabelDeclutter {
  constructor(map, selectors, obstacles = [], everyMs = 500) {
    this.map = map;
    this.selectors = selectors;
    this.obstacles = obstacles;
    this.runs = 0;
    map.on("zoomend moveend", () => this.run());
    setInterval(() => this.run(), everyMs);
  }

  run() {
    const box = this.map.getContainer();
    const labels = this.selectors
      .flatMap((selector) => [...box.querySelectorAll(selector)])
      .filter((label) => label.getClientRects().length > 0); // hidden labels take no room
    const boxes = labels.map((label) => {
      const r = label.getBoundingClientRect();
      const dy = Number(label.dataset.dy || 0); // measured where it was drawn
      return { x: r.x, y: r.y - dy, w: r.width, h: r.height };
    });
    const fixed = this.obstacles
      .flatMap((selector) => [...box.querySelectorAll(selector)])
      .map((node) => node.getBoundingClientRect())
      .filter((r) => r.width > 0)
      .map((r) => ({ x: r.x, y: r.y, w: r.width, h: r.height }));
    stackOffsets(boxes, fixed).forEach((dy, i) => {
      const label = labels[i];
      if (Number(label.dataset.dy || 0) === dy) return;
      label.dataset.dy = String(dy);
      label.style.translate = dy ? `0 ${dy}px` : "";
    });
    this.runs += 1;
  }
}

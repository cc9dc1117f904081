// The bookings timeline: one row per pad and per corridor over a day or a week,
// showing the user's bookings (booked / pending), everyone's busy time without
// details (from the availability API), closures and the hours the site is shut.

import { t, tValue } from "./i18n.js";
import { el } from "./session.js";
import { dayLabel, localDate, localTime, spanLabel, utcSpanLabel } from "./time.js";

const HOUR_MS = 3_600_000;
const SHOWN_STATES = new Set(["pending", "approved", "active"]);
const LANE_REM = 1.8; // one lane's height

/**
 * Return the timeline element.
 * range: {startMs, endMs, view: "day"|"week", zone}
 * site: {pads: [{id, name}], corridors: [{id, name, band, capacity}]}
 * data: {bookings, availability, closures}
 * onOpen(booking): a booking block was activated.
 */
export function renderTimeline(range, site, data, onOpen) {
  const span = range.endMs - range.startMs;
  const pct = (ms) => `${(((ms - range.startMs) / span) * 100).toFixed(3)}%`;
  const width = (a, b) => `${(((Math.min(b, range.endMs) - Math.max(a, range.startMs)) / span) * 100).toFixed(3)}%`;
  const clip = (a, b) => Math.min(b, range.endMs) > Math.max(a, range.startMs);

  const ticks = makeTicks(range);
  const tickEls = (withText) =>
    ticks.map((t) => el("div", { class: "tl-tick", style: `left:${pct(t.ms)}` }, withText ? t.label : ""));

  const closedHours = complement(
    (data.availability?.opening || []).map((i) => [Date.parse(i.start), Date.parse(i.end)]),
    range.startMs,
    range.endMs,
  );
  const shade = () =>
    closedHours.map(([a, b]) =>
      el("div", { class: "tl-closed-hours", style: `left:${pct(a)};width:${width(a, b)}`, title: t("timeline.site_closed") }),
    );
  const nowMs = Date.now();
  const nowLine = () =>
    nowMs > range.startMs && nowMs < range.endMs ? el("div", { class: "tl-now", style: `left:${pct(nowMs)}`, title: t("timeline.now") }) : null;

  const block = (cls, a, b, text, title, extra = {}) => {
    if (!clip(a, b)) return null;
    const tag = extra.onclick ? "button" : "div";
    return el(tag, { class: `tl-block ${cls}`, style: `left:${pct(Math.max(a, range.startMs))};width:${width(a, b)}`, title, type: extra.onclick ? "button" : undefined, ...extra }, text);
  };
  const intervalBlocks = (intervals, cls, text, title) =>
    (intervals || []).map((i) => block(cls, Date.parse(i.start), Date.parse(i.end), text, `${title}: ${spanLabel(i.start, i.end, range.zone)}`));

  // Each row's bookings in lanes, so concurrent bookings (a corridor of
  // capacity > 1) sit one under the other instead of hiding each other.
  const rowBookings = (pred) => {
    const shown = data.bookings.filter((b) => SHOWN_STATES.has(b.state) && pred(b));
    return { shown, ...assignLanes(shown.map((b) => [Date.parse(b.start), Date.parse(b.end)])) };
  };
  const trackStyle = ({ count }) => (count > 1 ? `min-height:calc(${count} * ${LANE_REM}rem + 0.4rem)` : undefined);
  const bookingBlocks = ({ shown, lanes, count }) =>
    shown
      .map((b, i) => {
        const lane = count > 1 ? { style: `top:calc(0.2rem + ${lanes[i]} * ${LANE_REM}rem);bottom:auto;height:${LANE_REM - 0.2}rem`, dataset: { lane: String(lanes[i]) } } : {};
        const cls = b.state === "pending" ? "pending" : b.state === "active" ? "active" : "booked";
        const resources = [
          b.takeoff_pad_id && t("timeline.take_off", { pad: b.takeoff_pad_id }),
          b.landing_pad_id && t("timeline.landing", { pad: b.landing_pad_id }),
          b.corridor_id && t("timeline.corridor", { corridor: b.corridor_id }),
        ].filter(Boolean);
        const title = t("timeline.booking_title", {
          id: b.id,
          state: tValue("booking.state", b.state),
          drone: b.drone_id,
          resources: resources.join(", "),
          local: spanLabel(b.start, b.end, range.zone),
          utc: utcSpanLabel(b.start, b.end),
        });
        const made = block(cls, Date.parse(b.start), Date.parse(b.end), `#${b.id} ${b.drone_id}`, title, {
          onclick: () => onOpen(b),
          dataset: { bookingId: String(b.id), state: b.state, ...lane.dataset },
          "aria-label": title,
        });
        if (made && lane.style) made.style.cssText += `;${lane.style}`;
        return made;
      });

  const closureReason = (kind, id) =>
    (data.closures || [])
      .filter((c) => (kind === "pad" ? c.pad_id === id : c.corridor_id === id) || c.target_kind === "area")
      .map((c) => c.reason)
      .join("; ");

  const rows = [];
  const axis = el("div", { class: "tl-axis", "aria-hidden": "true" }, tickEls(true));
  rows.push(el("div", { class: "tl-axis-label" }, t(range.view === "day" ? "timeline.time_axis" : "timeline.day_axis", { zone: range.zoneLabel })), axis);

  rows.push(el("div", { class: "tl-group" }, t("timeline.pads")));
  const padAvail = new Map((data.availability?.pads || []).map((p) => [p.pad_id, p]));
  for (const pad of site.pads) {
    const a = padAvail.get(pad.id) || {};
    const reason = closureReason("pad", pad.id);
    const booked = rowBookings((b) => b.takeoff_pad_id === pad.id || b.landing_pad_id === pad.id);
    rows.push(
      el("div", { class: "tl-label", title: pad.name }, el("strong", {}, pad.id), ` ${pad.name || ""}`),
      el(
        "div",
        { class: "tl-track", style: trackStyle(booked), dataset: { resource: `pad:${pad.id}` }, "aria-label": t("timeline.pad", { id: pad.id }) },
        tickEls(false),
        shade(),
        intervalBlocks(a.busy, "busy", "", t("timeline.pad_busy")),
        intervalBlocks(a.closed, "closed", t("timeline.closed_short"), reason ? t("timeline.closed_because", { reason }) : t("timeline.closed")),
        bookingBlocks(booked),
        nowLine(),
      ),
    );
  }
  rows.push(el("div", { class: "tl-group" }, t("timeline.corridors")));
  const corAvail = new Map((data.availability?.corridors || []).map((c) => [c.corridor_id, c]));
  for (const cor of site.corridors) {
    const a = corAvail.get(cor.id) || {};
    const reason = closureReason("corridor", cor.id);
    const booked = rowBookings((b) => b.corridor_id === cor.id);
    rows.push(
      el(
        "div",
        { class: "tl-label", title: t("timeline.corridor_label", { name: cor.name, band: cor.band, capacity: cor.capacity }) },
        el("strong", {}, cor.id),
        ` ${cor.band || ""}`,
      ),
      el(
        "div",
        { class: "tl-track", style: trackStyle(booked), dataset: { resource: `corridor:${cor.id}` }, "aria-label": t("timeline.corridor_track", { id: cor.id }) },
        tickEls(false),
        shade(),
        intervalBlocks(a.busy, "busy", "", t("timeline.in_use")),
        intervalBlocks(a.full, "full", t("timeline.full_short"), t("timeline.full", { capacity: cor.capacity })),
        intervalBlocks(a.closed, "closed", t("timeline.closed_short"), reason ? t("timeline.closed_because", { reason }) : t("timeline.closed")),
        bookingBlocks(booked),
        nowLine(),
      ),
    );
  }
  return el("div", { class: "timeline", role: "group", "aria-label": t("timeline.label") }, rows);
}

function makeTicks(range) {
  const ticks = [];
  if (range.view === "day") {
    for (let ms = range.startMs; ms < range.endMs; ms += HOUR_MS) {
      const hour = localTime(ms, range.zone).slice(0, 2);
      ticks.push({ ms, label: `${hour}:00` });
    }
  } else {
    for (let ms = range.startMs; ms < range.endMs; ms += 6 * HOUR_MS) {
      const first = localTime(ms, range.zone).startsWith("00");
      ticks.push({ ms, label: first ? dayLabel(localDate(ms, range.zone)) : "" });
    }
  }
  return ticks;
}

/**
 * Lanes for intervals ([startMs, endMs] pairs, in any order): each goes in the
 * lowest lane free at its start, so overlapping intervals never share a lane.
 * Return {lanes: lane index per interval, count: lanes used}.
 */
export function assignLanes(intervals) {
  const order = intervals.map((_, i) => i).sort((x, y) => intervals[x][0] - intervals[y][0]);
  const laneEnds = [];
  const lanes = new Array(intervals.length).fill(0);
  for (const i of order) {
    const [a, b] = intervals[i];
    let lane = laneEnds.findIndex((end) => end <= a);
    if (lane < 0) lane = laneEnds.push(b) - 1;
    else laneEnds[lane] = b;
    lanes[i] = lane;
  }
  return { lanes, count: Math.max(1, laneEnds.length) };
}

/** Return the parts of [start, end) not covered by `intervals` ([a, b] pairs, sorted). */
export function complement(intervals, start, end) {
  const out = [];
  let cursor = start;
  for (const [a, b] of [...intervals].sort((x, y) => x[0] - y[0])) {
    if (a > cursor) out.push([cursor, Math.min(a, end)]);
    cursor = Math.max(cursor, b);
  }
  if (cursor < end) out.push([cursor, end]);
  return out.filter(([a, b]) => b > a);
}

// Times: the API speaks UTC; people at the pier think in the site's local time.
// Everything here uses the browser's built-in time zone data (Intl), no library.

import { intlLocale, t } from "./i18n.js";

const partsCache = new Map();

function formatter(timeZone) {
  let f = partsCache.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-GB", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    partsCache.set(timeZone, f);
  }
  return f;
}

/** Return {year, month, day, hour, minute, second} of `ms` (epoch) in `timeZone`. */
export function wallClock(ms, timeZone) {
  const out = {};
  for (const p of formatter(timeZone).formatToParts(new Date(ms))) {
    if (p.type !== "literal") out[p.type] = Number(p.value);
  }
  return out;
}

/** Return how far `timeZone` is ahead of UTC at instant `ms`, in minutes. */
export function offsetMinutes(timeZone, ms) {
  const w = wallClock(ms, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60000);
}

/** Return the epoch ms of local date "YYYY-MM-DD" and time "HH:MM" in `timeZone`. */
export function localToUtcMs(dateStr, timeStr, timeZone) {
  const [y, m, d] = dateStr.split("-").map(Number);
  const [hh, mm] = (timeStr || "00:00").split(":").map(Number);
  const guess = Date.UTC(y, m - 1, d, hh, mm);
  let ms = guess - offsetMinutes(timeZone, guess) * 60000;
  ms = guess - offsetMinutes(timeZone, ms) * 60000; // settles across a DST change
  return ms;
}

const pad2 = (n) => String(n).padStart(2, "0");

/** Return "YYYY-MM-DD" of instant `ms` in `timeZone`. */
export function localDate(ms, timeZone) {
  const w = wallClock(ms, timeZone);
  return `${w.year}-${pad2(w.month)}-${pad2(w.day)}`;
}

/** Return "HH:MM" (or "HH:MM:SS") of instant `ms` in `timeZone`. */
export function localTime(ms, timeZone, seconds = false) {
  const w = wallClock(ms, timeZone);
  return `${pad2(w.hour)}:${pad2(w.minute)}${seconds ? `:${pad2(w.second)}` : ""}`;
}

/** Return the date "YYYY-MM-DD" `days` after `dateStr` (calendar arithmetic). */
export function addDays(dateStr, days) {
  const [y, m, d] = dateStr.split("-").map(Number);
  const t = new Date(Date.UTC(y, m - 1, d + days));
  return `${t.getUTCFullYear()}-${pad2(t.getUTCMonth() + 1)}-${pad2(t.getUTCDate())}`;
}

/** Return the Monday on or before `dateStr`. */
export function mondayOf(dateStr) {
  const [y, m, d] = dateStr.split("-").map(Number);
  const weekday = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7;
  return addDays(dateStr, -weekday);
}

/** Return "Mon 24 Nov" for a date string. */
export function dayLabel(dateStr) {
  const [y, m, d] = dateStr.split("-").map(Number);
  return new Intl.DateTimeFormat(intlLocale(), {
    timeZone: "UTC",
    weekday: "short",
    day: "numeric",
    month: "short",
  }).format(new Date(Date.UTC(y, m - 1, d)));
}

/** Return a short name of the zone at `ms`, e.g. "HKT" or "GMT+8". */
export function zoneAbbrev(timeZone, ms = Date.now()) {
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone, timeZoneName: "short" })
    .formatToParts(new Date(ms));
  return parts.find((p) => p.type === "timeZoneName")?.value || timeZone;
}

/** Return "UTC+8" for the zone's offset at `ms`. */
export function utcOffsetLabel(timeZone, ms = Date.now()) {
  const off = offsetMinutes(timeZone, ms);
  const sign = off < 0 ? "-" : "+";
  const h = Math.floor(Math.abs(off) / 60);
  const m = Math.abs(off) % 60;
  return `UTC${sign}${h}${m ? `:${pad2(m)}` : ""}`;
}

/** Return "24 Nov 10:00–10:30 HKT" for a window, in the site's local time. */
export function spanLabel(startIso, endIso, timeZone) {
  const s = Date.parse(startIso);
  const e = Date.parse(endIso);
  const sameDay = localDate(s, timeZone) === localDate(e, timeZone);
  const startDay = dayLabel(localDate(s, timeZone));
  const end = sameDay ? localTime(e, timeZone) : `${dayLabel(localDate(e, timeZone))} ${localTime(e, timeZone)}`;
  return `${startDay} ${localTime(s, timeZone)}–${end} ${zoneAbbrev(timeZone, s)}`;
}

/** Return "10:00–10:30Z" (UTC) for a window. */
export function utcSpanLabel(startIso, endIso) {
  const s = new Date(startIso).toISOString();
  const e = new Date(endIso).toISOString();
  const sameDay = s.slice(0, 10) === e.slice(0, 10);
  return `${s.slice(0, 10)} ${s.slice(11, 16)}–${sameDay ? "" : `${e.slice(0, 10)} `}${e.slice(11, 16)}Z`;
}

/**
 * Keep a clock element showing UTC and the site's local time, every second.
 * Returns a function that changes the site zone (the map may switch sites).
 */
export function startClock(element, timeZone) {
  let zone = timeZone;
  const tick = () => {
    const now = Date.now();
    const utc = new Date(now).toISOString().slice(11, 19);
    element.textContent = `${utc} UTC · ${localTime(now, zone, true)} ${zoneAbbrev(zone, now)}`;
    element.title = t("clock.zone_title", { zone, offset: utcOffsetLabel(zone, now) });
  };
  tick();
  setInterval(tick, 1000);
  return (z) => {
    zone = z;
    tick();
  };
}

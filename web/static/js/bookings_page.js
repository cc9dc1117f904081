// The bookings page: a timeline per pad and corridor, requesting and cancelling
// bookings, approving them (site admins) and closing pads, corridors or areas (site
// admins and safety officers). The API decides; this page explains its answers.
// An area's vertices are typed in WGS84 or the HK1980 Grid; the server converts.

import { fenceReason } from "./event_sentences.js";
import { CoordinateFormat, HK1980 as READOUT_HK1980 } from "./grid_readout.js";
import { formatList, onLanguageChange, t, tValue } from "./i18n.js";
import { bookingResources, explainRefusal } from "./refusal.js";
import {
  api,
  APPROVER_ROLES,
  applyRole,
  BOOKING_ROLES,
  chooseSite,
  CLOSURE_ROLES,
  el,
  hasRole,
  listSites,
  requireUser,
  siteSelector,
} from "./session.js";
import { bandLabel } from "./site_layers.js";
import { renderTimeline } from "./timeline.js";
import {
  addDays,
  dayLabel,
  localDate,
  localToUtcMs,
  mondayOf,
  spanLabel,
  startClock,
  utcOffsetLabel,
  utcSpanLabel,
  zoneAbbrev,
} from "./time.js";
import { HK1980, parseVertices, WGS84 } from "./vertex_list.js";

const $ = (id) => document.getElementById(id);
const OCCUPYING = new Set(["pending", "approved", "active"]);
const HOUR_MS = 3_600_000;
/** The gateway completes a flight once the drone has landed and disarmed (and at
 * the window's end) without this page acting: reload the schedule this often so an
 * active booking is seen to end. */
const RELOAD_MS = 15_000;

const page = {
  user: null,
  site: null,
  zone: "UTC",
  pads: [],
  corridors: [],
  drones: [],
  display: null, // the site's display member: its HK1980 Grid fit, when it has one
  date: null,
  view: "day",
  bookings: [],
  known: new Map(), // booking id -> booking, everything seen on this page
};

async function main() {
  page.user = await requireUser();
  applyRole(page.user);
  const sites = await listSites();
  page.site = chooseSite(sites);
  if (!page.site) {
    $("timeline").textContent = t("bookings.no_site");
    return;
  }
  siteSelector($("site-select"), sites, page.site);
  page.zone = page.site.timezone || "UTC";
  startClock($("clock"), page.zone);
  const params = new URLSearchParams(location.search);
  page.date = /^\d{4}-\d{2}-\d{2}$/.test(params.get("date") || "") ? params.get("date") : localDate(Date.now(), page.zone);
  page.view = params.get("view") === "week" ? "week" : "day";
  $("range-date").value = page.date;
  $("range-view").value = page.view;

  const collection = await api(`sites/${encodeURIComponent(page.site.id)}`);
  const features = collection.features;
  page.display = collection.display || null;
  page.pads = features.filter((f) => f.properties.kind === "pad").map((f) => f.properties);
  page.corridors = features
    .filter((f) => f.properties.kind === "corridor")
    .map((f) => ({ ...f.properties, band: bandLabel(f.properties) }));

  wireRange();
  $("ics-download").addEventListener("click", downloadIcs);
  if (hasRole(page.user, BOOKING_ROLES)) await setUpBookingForm();
  if (hasRole(page.user, CLOSURE_ROLES)) setUpClosureForm();
  await refresh();
  onLanguageChange(() => {
    if (hasRole(page.user, BOOKING_ROLES)) fillBookingChoices();
    if (hasRole(page.user, CLOSURE_ROLES)) fillClosureTargets();
    redrawResults();
    refresh();
  });
  setInterval(() => document.visibilityState === "visible" && refresh(), RELOAD_MS);
}

// ---- the shown period -------------------------------------------------------

function range() {
  const firstDay = page.view === "week" ? mondayOf(page.date) : page.date;
  const days = page.view === "week" ? 7 : 1;
  return {
    view: page.view,
    zone: page.zone,
    zoneLabel: zoneAbbrev(page.zone),
    firstDay,
    startMs: localToUtcMs(firstDay, "00:00", page.zone),
    endMs: localToUtcMs(addDays(firstDay, days), "00:00", page.zone),
  };
}

function wireRange() {
  const go = (date, view = page.view) => {
    page.date = date;
    page.view = view;
    $("range-date").value = date;
    $("range-view").value = view;
    const params = new URLSearchParams(location.search);
    params.set("date", date);
    params.set("view", view);
    history.replaceState(null, "", `?${params}`);
    refresh();
  };
  $("range-date").addEventListener("change", () => $("range-date").value && go($("range-date").value));
  $("range-view").addEventListener("change", () => go(page.date, $("range-view").value));
  const step = () => (page.view === "week" ? 7 : 1);
  $("range-prev").addEventListener("click", () => go(addDays(page.date, -step())));
  $("range-next").addEventListener("click", () => go(addDays(page.date, step())));
  $("range-today").addEventListener("click", () => go(localDate(Date.now(), page.zone)));
}

async function refresh() {
  const r = range();
  const from = new Date(r.startMs).toISOString();
  const to = new Date(r.endMs).toISOString();
  const q = (extra = {}) => new URLSearchParams({ site: page.site.id, from, to, ...extra });
  const days =
    r.view === "week"
      ? t("bookings.day_range", { first: dayLabel(r.firstDay), last: dayLabel(addDays(r.firstDay, 6)) })
      : dayLabel(r.firstDay);
  $("range-caption").textContent = t("bookings.range_caption", {
    days,
    zone: page.zone,
    offset: utcOffsetLabel(page.zone, r.startMs),
  });
  try {
    const [bookings, availability, closures] = await Promise.all([
      api(`bookings?${q({ limit: 1000 })}`),
      api(`sites/${encodeURIComponent(page.site.id)}/availability?${new URLSearchParams({ from, to })}`),
      api(`closures?${q()}`),
    ]);
    if (r.view === "day" && availability.opening.length) {
      // Show the open hours with an hour either side, not the night.
      const opens = Math.min(...availability.opening.map((i) => Date.parse(i.start)));
      const closes = Math.max(...availability.opening.map((i) => Date.parse(i.end)));
      r.startMs = Math.max(r.startMs, opens - HOUR_MS);
      r.endMs = Math.min(r.endMs, closes + HOUR_MS);
    }
    page.bookings = bookings;
    for (const b of bookings) page.known.set(b.id, b);
    const site = { pads: page.pads, corridors: page.corridors };
    $("timeline").replaceChildren(renderTimeline(r, site, { bookings, availability, closures }, showBooking));
    renderBookingTable(bookings);
    renderClosureTable(closures);
    $("timeline").dataset.loaded = String(Date.now());
  } catch (err) {
    $("timeline").replaceChildren(el("p", { class: "error" }, t("bookings.could_not_load", { reason: err.message })));
  }
  if (hasRole(page.user, APPROVER_ROLES)) await renderPending();
}

// ---- bookings -----------------------------------------------------------------

const resources = (b) => bookingResources(b) || t("bookings.res.nothing");
const stateLabel = (b) => el("span", { class: `state state-${b.state}` }, tValue("booking.state", b.state));

function canCancel(b) {
  if (!OCCUPYING.has(b.state) || b.state === "active") return false;
  if (page.user.role === "site_admin") return true;
  return hasRole(page.user, BOOKING_ROLES) && page.user.operator_id === b.operator_id;
}

/** An active booking's flight may be ended by its organisation or a site admin. */
function canComplete(b) {
  if (b.state !== "active") return false;
  if (page.user.role === "site_admin") return true;
  return hasRole(page.user, BOOKING_ROLES) && page.user.operator_id === b.operator_id;
}

function actionButtons(b) {
  const out = [];
  if (b.state === "pending" && hasRole(page.user, APPROVER_ROLES)) {
    out.push(el("button", { type: "button", class: "ok small", onclick: () => act(b, "approve") }, t("bookings.approve")));
    out.push(el("button", { type: "button", class: "danger small", onclick: (e) => askReject(b, e.currentTarget) }, t("bookings.reject")));
  }
  if (canCancel(b)) {
    out.push(confirmButton(t("bookings.cancel"), t("bookings.confirm_cancel"), () => act(b, "cancel")));
  }
  if (canComplete(b)) {
    out.push(confirmButton(t("bookings.end_flight"), t("bookings.confirm_end"), () => act(b, "complete")));
  }
  if (b.state === "active" || b.state === "completed" || b.state === "approved") {
    out.push(el("a", { class: "small", href: `/bookings/${b.id}/flights` }, t("ui.flights")));
  }
  if (canSendFence(b)) {
    out.push(el("button", { type: "button", class: "small fence-send", onclick: (e) => sendFence(b, e.currentTarget) }, t("bookings.send_fence")));
  }
  if (b.corridor_id || b.takeoff_pad_id) {
    out.push(el("button", { type: "button", class: "small plan-download", onclick: () => downloadPlan(b) }, ".plan"));
  }
  return out;
}

/** An approved or active booking's fence may be sent by its organisation or a site admin. */
function canSendFence(b) {
  if (b.state !== "approved" && b.state !== "active") return false;
  if (page.user.role === "site_admin") return true;
  return hasRole(page.user, BOOKING_ROLES) && page.user.operator_id === b.operator_id;
}

/** Return "fence verified — 12 items read back identical" as an element (the
 * reason as the drone's exchange went, in the page language). */
function fenceLine(report) {
  if (!report || !report.state) return el("p", { class: "fence-state muted" }, t("fence.not_sent"));
  return el(
    "p",
    { class: `fence-state fence-${report.state}`, dataset: { fenceState: report.state } },
    el("strong", {}, tValue("fence.state", report.state)),
    ` — ${fenceReason(report)}`,
  );
}

/** Upload the booking's fence to its drone (it reads it back), and show the answer. */
async function sendFence(b, button) {
  button.disabled = true;
  button.textContent = t("bookings.sending_fence");
  let report;
  try {
    report = await api(`bookings/${b.id}/fence`, { method: "POST" });
  } catch (err) {
    report = { state: "refused", reason: err.message };
  }
  button.disabled = false;
  button.textContent = t("bookings.send_fence");
  const box = $("booking-detail");
  const before = redraws.get(box);
  const draw = () => {
    if (before) before();
    addFenceLine(box, b, report);
    box.hidden = false;
  };
  redraws.set(box, draw);
  draw();
}

/** Put booking `b`'s fence `report` at the end of `box`, in place of an older one. */
function addFenceLine(box, b, report) {
  document.querySelectorAll(`.fence-state[data-booking-id="${b.id}"]`).forEach((n) => n.remove());
  const line = fenceLine(report);
  line.dataset.bookingId = String(b.id);
  box.append(line);
}

/** A button that needs a second click within 4 s: cancelling cannot be undone. */
function confirmButton(label, confirmLabel, run) {
  const button = el("button", { type: "button", class: "small" }, label);
  let armed = null;
  button.addEventListener("click", () => {
    if (armed) {
      clearTimeout(armed);
      armed = null;
      run();
      return;
    }
    button.textContent = confirmLabel;
    button.classList.add("danger");
    armed = setTimeout(() => {
      armed = null;
      button.textContent = label;
      button.classList.remove("danger");
    }, 4000);
  });
  return button;
}

function askReject(b, button) {
  const reason = el("input", { "aria-label": t("bookings.reject_reason_label", { id: b.id }), placeholder: t("bookings.reason_optional"), maxlength: 500 });
  const go = el("button", { type: "button", class: "danger small" }, t("bookings.reject"));
  go.addEventListener("click", () => act(b, "reject", { reason: reason.value }));
  button.replaceWith(el("span", { class: "reject-form" }, reason, go));
  reason.focus();
}

async function act(b, action, body) {
  const box = $("booking-detail");
  try {
    const updated = await api(`bookings/${b.id}/${action}`, { method: "POST", body });
    page.known.set(updated.id, updated);
    showResult(box, "ok", () => ({
      title: t("bookings.now_state", { id: updated.id, state: tValue("booking.state", updated.state) }),
      lines: [t("bookings.summary", { drone: updated.drone_id, resources: resources(updated), span: spanLabel(updated.start, updated.end, page.zone) })],
    }));
  } catch (err) {
    showResult(box, "refused", () => explainRefusal(err, { known: page.known, timeZone: page.zone, action }));
  }
  await refresh();
}

function showBooking(b) {
  const box = $("booking-detail");
  let fence = null; // the fence report, once the server has answered
  const draw = () => {
    box.className = "result";
    delete box.dataset.kind;
    box.replaceChildren(
      el("h3", {}, t("bookings.detail_title", { id: b.id }), " · ", stateLabel(b)),
      el("p", {}, t("bookings.detail_drone", { drone: b.drone_id, operator: b.operator_id, resources: resources(b) })),
      el("p", {}, `${spanLabel(b.start, b.end, page.zone)} · ${utcSpanLabel(b.start, b.end)}`),
      el("div", { class: "form-actions" }, actionButtons(b)),
    );
    if (fence) addFenceLine(box, b, fence);
    box.hidden = false;
  };
  redraws.set(box, draw);
  draw();
  box.scrollIntoView({ block: "nearest" });
  if (b.state === "approved" || b.state === "active") {
    api(`bookings/${b.id}/fence`)
      .then((report) => {
        fence = report;
        if (redraws.get(box) === draw) addFenceLine(box, b, report);
      })
      .catch(() => {});
  }
}

function renderBookingTable(bookings) {
  if (!bookings.length) {
    $("booking-table").replaceChildren(el("p", { class: "muted" }, t("bookings.none")));
    return;
  }
  const rows = [...bookings]
    .sort((a, b) => Date.parse(a.start) - Date.parse(b.start))
    .map((b) =>
      el(
        "tr",
        { dataset: { bookingId: String(b.id) } },
        el("td", {}, `#${b.id}`),
        el("td", {}, b.drone_id),
        el("td", {}, b.operator_id),
        el("td", {}, resources(b)),
        el("td", { title: utcSpanLabel(b.start, b.end) }, spanLabel(b.start, b.end, page.zone)),
        el("td", {}, stateLabel(b)),
        el("td", {}, el("div", { class: "actions" }, actionButtons(b))),
      ),
    );
  $("booking-table").replaceChildren(
    el(
      "table",
      {},
      el("thead", {}, el("tr", {}, ["ui.booking", "ui.drone", "ui.operator", "bookings.col.resources", "bookings.col.window", "ui.state", ""].map((h) => el("th", { scope: "col" }, h && t(h))))),
      el("tbody", {}, rows),
    ),
  );
}

async function renderPending() {
  try {
    const pending = await api(`bookings?${new URLSearchParams({ site: page.site.id, state: "pending", limit: 200 })}`);
    for (const b of pending) page.known.set(b.id, b);
    $("pending-list").replaceChildren(
      pending.length
        ? el(
            "ul",
            { class: "items" },
            pending.map((b) =>
              el(
                "li",
                { dataset: { bookingId: String(b.id) } },
                `#${b.id} · ${b.drone_id} (${b.operator_id}) · ${resources(b)} · ${spanLabel(b.start, b.end, page.zone)} `,
                actionButtons(b),
              ),
            ),
          )
        : el("p", { class: "muted" }, t("bookings.nothing_pending")),
    );
  } catch (err) {
    $("pending-list").replaceChildren(el("p", { class: "error" }, err.message));
  }
}

// ---- the booking form ---------------------------------------------------------

async function setUpBookingForm() {
  page.drones = await api(`drones?${new URLSearchParams({ site: page.site.id })}`);
  fillBookingChoices();
  $("bk-date").value = page.date;
  const form = $("booking-form");
  form.addEventListener("input", showUtcPreview);
  showUtcPreview();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await submitBooking();
    } finally {
      button.disabled = false;
    }
  });
}

/** Fill (or, after a language switch, refill) the booking form's lists; the
 * choices made stay chosen. */
function fillBookingChoices() {
  const refill = (select, options) => {
    const chosen = select.value;
    select.replaceChildren(...options);
    if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
  };
  refill($("bk-drone"), [
    ...(page.drones.length ? [] : [new Option(t("bookings.no_drone_registered"), "")]),
    ...page.drones.map((d) => new Option(`${d.name} (${d.id}${page.user.role === "site_admin" ? `, ${d.operator_id}` : ""})`, d.id)),
  ]);
  const padOption = (p) =>
    new Option(t("bookings.pad_option", { id: p.id, name: p.name, charger: p.charger ? " ⚡" : "", mass: p.max_takeoff_mass_kg }), p.id);
  refill($("bk-takeoff"), [new Option(t("bookings.none_option"), ""), ...page.pads.map(padOption)]);
  refill($("bk-landing"), [
    new Option(t("bookings.same_as_takeoff"), "="),
    new Option(t("bookings.none_option"), ""),
    ...page.pads.map((p) => new Option(`${p.id} · ${p.name}`, p.id)),
  ]);
  refill($("bk-corridor"), [
    new Option(t("bookings.none_option"), ""),
    ...page.corridors.map((c) => new Option(`${c.id} · ${c.name} (${c.band})`, c.id)),
  ]);
  showUtcPreview();
}

function formWindow(dateId, startId, endId) {
  const date = $(dateId).value;
  const start = $(startId).value;
  const end = $(endId).value;
  if (!date || !start || !end) return null;
  const startMs = localToUtcMs(date, start, page.zone);
  let endMs = localToUtcMs(date, end, page.zone);
  if (end === "00:00") endMs = localToUtcMs(addDays(date, 1), "00:00", page.zone); // to midnight
  return { start: new Date(startMs).toISOString(), end: new Date(endMs).toISOString() };
}

function showUtcPreview() {
  const w = formWindow("bk-date", "bk-start", "bk-end");
  $("bk-utc").textContent = w
    ? t("bookings.utc_preview", { zone: page.zone, offset: utcOffsetLabel(page.zone, Date.parse(w.start)), utc: utcSpanLabel(w.start, w.end) })
    : "";
}

async function submitBooking() {
  const box = $("booking-result");
  const w = formWindow("bk-date", "bk-start", "bk-end");
  const droneId = $("bk-drone").value;
  const takeoff = $("bk-takeoff").value || null;
  const landingChoice = $("bk-landing").value;
  const landing = landingChoice === "=" ? takeoff : landingChoice || null;
  const corridor = $("bk-corridor").value || null;
  const problems = [];
  if (!droneId) problems.push(() => t("bookings.form.pick_drone"));
  if (!w) problems.push(() => t("bookings.form.give_window"));
  else if (Date.parse(w.end) <= Date.parse(w.start)) problems.push(() => t("bookings.form.end_after_start"));
  if (!takeoff && !landing && !corridor) problems.push(() => t("refusal.advice.resources"));
  if (problems.length) {
    showResult(box, "refused", () => ({ title: t("bookings.form.incomplete"), lines: problems.map((words) => words()) }));
    return;
  }
  const body = { site_id: page.site.id, drone_id: droneId, ...w };
  if (takeoff) body.takeoff_pad_id = takeoff;
  if (landing) body.landing_pad_id = landing;
  if (corridor) body.corridor_id = corridor;
  try {
    const b = await api("bookings", { method: "POST", body });
    page.known.set(b.id, b);
    showResult(box, "ok", () => ({
      title: t("bookings.requested", { id: b.id }),
      lines: [
        t("bookings.requested_summary", {
          drone: b.drone_id,
          resources: resources(b),
          span: spanLabel(b.start, b.end, page.zone),
          utc: utcSpanLabel(b.start, b.end),
        }),
        t("bookings.awaits_approval", { state: tValue("booking.state", b.state) }),
      ],
    }));
    box.dataset.bookingId = String(b.id);
    const day = localDate(Date.parse(b.start), page.zone);
    if (day !== page.date && page.view === "day") {
      page.date = day;
      $("range-date").value = day;
    }
    await refresh();
  } catch (err) {
    await learnBookings(err.body?.booking_ids || []);
    showResult(box, "refused", () => explainRefusal(err, { known: page.known, timeZone: page.zone }));
    delete box.dataset.bookingId;
  }
}

/** Fetch the bookings a refusal names that this page has not seen (404s are fine). */
async function learnBookings(ids) {
  await Promise.all(
    ids
      .filter((id) => !page.known.has(id))
      .map((id) =>
        api(`bookings/${id}`)
          .then((b) => page.known.set(b.id, b))
          .catch(() => null),
      ),
  );
}

/** What each result box shows, as a function that draws it again: a language
 * switch redraws the answers in the new language, not only the page's labels. */
const redraws = new Map();

/** Show `answer()` ({title, lines}) in `box` as an ok or refused result. */
function showResult(box, kind, answer) {
  const draw = () => {
    const { title, lines } = answer();
    box.className = `result ${kind}`;
    box.dataset.kind = kind;
    box.replaceChildren(el("h3", {}, title), ...lines.map((line) => el("p", {}, line)));
    box.hidden = false;
  };
  redraws.set(box, draw);
  draw();
}

function redrawResults() {
  for (const [box, draw] of redraws) if (!box.hidden) draw();
}

// ---- closures -------------------------------------------------------------------

function closureTarget(c) {
  if (c.target_kind === "pad") return t("timeline.pad", { id: c.pad_id });
  if (c.target_kind === "corridor") return t("timeline.corridor_track", { id: c.corridor_id });
  if (c.floor_amsl_m === null || c.floor_amsl_m === undefined) return t("closures.target.area");
  return t("closures.target.area_band", { floor: c.floor_amsl_m, ceiling: c.ceiling_amsl_m });
}

function renderClosureTable(closures) {
  if (!closures.length) {
    $("closure-table").replaceChildren(el("p", { class: "muted" }, t("closures.none")));
    return;
  }
  const manage = hasRole(page.user, CLOSURE_ROLES);
  const headings = ["closures.col.closure", "closures.col.what", "bookings.col.window", "ui.reason", "closures.col.by", ""];
  $("closure-table").replaceChildren(
    el(
      "table",
      {},
      el("thead", {}, el("tr", {}, headings.map((h) => el("th", { scope: "col" }, h && t(h))))),
      el(
        "tbody",
        {},
        closures.map((c) =>
          el(
            "tr",
            { dataset: { closureId: String(c.id), targetKind: c.target_kind } },
            el("td", {}, `#${c.id}`),
            el("td", {}, closureTarget(c)),
            el("td", { title: utcSpanLabel(c.start, c.end) }, spanLabel(c.start, c.end, page.zone)),
            el("td", {}, c.reason),
            el("td", {}, c.created_by),
            el("td", {}, manage ? confirmButton(t("closures.delete"), t("closures.confirm_delete"), () => deleteClosure(c)) : null),
          ),
        ),
      ),
    ),
  );
}

const AREA = "area:";

/** Fill (or refill after a language switch) what may be closed: pads, corridors, an area. */
function fillClosureTargets() {
  const target = $("cl-target");
  const chosen = target.value;
  const group = (label, options) => {
    const g = document.createElement("optgroup");
    g.label = label;
    g.append(...options);
    return g;
  };
  const features = (items, kind) => items.map((f) => new Option(`${f.id} · ${f.name}`, `${kind}:${f.id}`));
  target.replaceChildren(
    group(t("ui.pads"), features(page.pads, "pad")),
    group(t("timeline.corridors"), features(page.corridors, "corridor")),
    group(t("closures.area_group"), [new Option(t("closures.area_option"), AREA)]),
  );
  if (chosen) target.value = chosen;
}

/** Example vertices for the chosen system: a small square at the site's reference
 * point, whose grid position the server's fit already gives (no datum maths here). */
function vertexExample(system) {
  const fit = page.display?.hk1980;
  if (!fit) return "";
  const corners = [[-1, -1], [1, -1], [1, 1], [-1, 1]];
  if (system === HK1980) {
    const [e, n] = [fit.easting_terms[0], fit.northing_terms[0]];
    return corners.map(([dx, dy]) => `${(e + 100 * dx).toFixed(0)}, ${(n + 100 * dy).toFixed(0)}`).join("\n");
  }
  return corners.map(([dx, dy]) => `${(fit.ref_lon_deg + 0.001 * dx).toFixed(5)}, ${(fit.ref_lat_deg + 0.001 * dy).toFixed(5)}`).join("\n");
}

function setUpClosureForm() {
  const target = $("cl-target");
  const system = $("cl-system");
  fillClosureTargets();
  // The grid is offered where the site has it; the map's WGS84 / HK1980 choice is the default.
  system.querySelector(`option[value="${HK1980}"]`).disabled = !page.display?.hk1980;
  const readout = new CoordinateFormat();
  readout.setDisplay(page.display);
  system.value = readout.effectiveMode === READOUT_HK1980 ? HK1980 : WGS84;
  const showArea = () => {
    $("cl-area").hidden = target.value !== AREA;
    $("cl-vertices").placeholder = vertexExample(system.value);
  };
  target.addEventListener("change", showArea);
  system.addEventListener("change", showArea);
  showArea();
  $("cl-date").value = page.date;
  const form = $("closure-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const box = $("closure-result");
    const w = formWindow("cl-date", "cl-start", "cl-end");
    const reason = $("cl-reason").value.trim();
    if (!w || !reason || Date.parse(w.end) <= Date.parse(w.start)) {
      showResult(box, "refused", () => ({ title: t("bookings.form.incomplete"), lines: [t("closures.form.give_window")] }));
      return;
    }
    const body = { site_id: page.site.id, reason, ...w };
    if (target.value === AREA) {
      const area = areaFromForm();
      if (area.problem) {
        showResult(box, "refused", () => ({ title: t("bookings.form.incomplete"), lines: [area.problem()] }));
        return;
      }
      Object.assign(body, area.body);
    } else {
      const [kind, id] = target.value.split(":");
      body[kind === "pad" ? "pad_id" : "corridor_id"] = id;
    }
    try {
      const c = await api("closures", { method: "POST", body });
      showResult(box, "ok", () => ({ title: t("closures.created", { id: c.id }), lines: closureCreatedLines(c) }));
      box.dataset.closureId = String(c.id);
      await refresh();
    } catch (err) {
      showResult(box, "refused", () => explainRefusal(err, { known: page.known, timeZone: page.zone, action: "closure" }));
    }
  });
}

/** What a new closure did, in words: what is closed when, whom it bumped. */
function closureCreatedLines(c) {
  const lines = [t("closures.closed_line", { target: closureTarget(c), span: spanLabel(c.start, c.end, page.zone), reason: c.reason })];
  const bumped = c.bumped.map((b) => t("closures.bumped_item", { id: b.id, drone: b.drone_id, operator: b.operator_id }));
  lines.push(bumped.length ? t("closures.bumped", { bookings: formatList(bumped) }) : t("closures.none_bumped"));
  if (c.active_booking_ids.length) {
    const ids = formatList(c.active_booking_ids.map((i) => `#${i}`));
    lines.push(t("closures.active_flights", { count: c.active_booking_ids.length, ids }));
  }
  return lines;
}

/** Return {body} (the area and its band as the API takes them) or {problem}, a
 * function giving it in words. */
function areaFromForm() {
  const system = $("cl-system").value;
  const parsed = parseVertices($("cl-vertices").value, system);
  if (parsed.error === "line") {
    const order = system === HK1980 ? "closures.order.hk1980" : "closures.order.wgs84";
    return { problem: () => t("closures.form.bad_line", { line: parsed.line, text: parsed.text, order: t(order) }) };
  }
  if (parsed.error) return { problem: () => t("closures.form.too_few") };
  const floor = $("cl-floor").valueAsNumber;
  const ceiling = $("cl-ceiling").valueAsNumber;
  if (!Number.isFinite(floor) || !Number.isFinite(ceiling) || floor >= ceiling) {
    return { problem: () => t("closures.form.band") };
  }
  const polygon = { type: "Polygon", coordinates: [parsed.ring] };
  const member = system === HK1980 ? "area_hk1980" : "area";
  return { body: { [member]: polygon, floor_m: floor, ceiling_m: ceiling, alt_ref: "AMSL" } };
}

async function deleteClosure(c) {
  const box = $("closure-result");
  try {
    await api(`closures/${c.id}`, { method: "DELETE" });
    showResult(box, "ok", () => ({ title: t("closures.deleted", { id: c.id }), lines: [t("closures.deleted_note")] }));
  } catch (err) {
    showResult(box, "refused", () => explainRefusal(err, { known: page.known, timeZone: page.zone, action: "delete" }));
  }
  await refresh();
}

// ---- iCalendar ------------------------------------------------------------------

/** Save the booking's fence as a QGroundControl .plan (what the aircraft gets). */
async function downloadPlan(b) {
  try {
    const response = await api(`bookings/${b.id}/plan`, { raw: true });
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: `skyberth-booking-${b.id}.plan` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (err) {
    showResult($("booking-detail"), "refused", () => ({ title: t("bookings.plan_failed"), lines: [err.message] }));
  }
}

async function downloadIcs() {
  try {
    const response = await api(`bookings.ics?${new URLSearchParams({ site: page.site.id })}`, { raw: true });
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: `skyberth-${page.site.id}-bookings.ics` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (err) {
    showResult($("booking-detail"), "refused", () => ({ title: t("bookings.ics_failed"), lines: [err.message] }));
  }
}

main().catch((err) => {
  $("timeline").replaceChildren(el("p", { class: "error" }, t("page.could_not_start", { reason: err.message })));
});

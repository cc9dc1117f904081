// The bookings page: a timeline per pad and corridor, requesting and cancelling
// bookings, approving them (site admins) and closing pads or corridors (site
// admins and safety officers). The API decides; this page explains its answers.

import { explainRefusal } from "./refusal.js";
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
    $("timeline").textContent = "This server serves no site.";
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

  const features = (await api(`sites/${encodeURIComponent(page.site.id)}`)).features;
  page.pads = features.filter((f) => f.properties.kind === "pad").map((f) => f.properties);
  page.corridors = features
    .filter((f) => f.properties.kind === "corridor")
    .map((f) => ({ ...f.properties, band: bandLabel(f.properties) }));

  wireRange();
  $("ics-download").addEventListener("click", downloadIcs);
  if (hasRole(page.user, BOOKING_ROLES)) await setUpBookingForm();
  if (hasRole(page.user, CLOSURE_ROLES)) setUpClosureForm();
  await refresh();
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
  const last = r.view === "week" ? ` – ${dayLabel(addDays(r.firstDay, 6))}` : "";
  $("range-caption").textContent =
    `${dayLabel(r.firstDay)}${last}, site time ${page.zone} (${utcOffsetLabel(page.zone, r.startMs)}). ` +
    `Times in the API and the .ics file are UTC.`;
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
    $("timeline").replaceChildren(el("p", { class: "error" }, `Could not load the schedule: ${err.message}`));
  }
  if (hasRole(page.user, APPROVER_ROLES)) await renderPending();
}

// ---- bookings -----------------------------------------------------------------

function resources(b) {
  const pads =
    b.takeoff_pad_id && b.landing_pad_id && b.takeoff_pad_id !== b.landing_pad_id
      ? `pads ${b.takeoff_pad_id} → ${b.landing_pad_id}`
      : b.takeoff_pad_id || b.landing_pad_id
        ? `pad ${b.takeoff_pad_id || b.landing_pad_id}`
        : null;
  return [pads, b.corridor_id && `corridor ${b.corridor_id}`].filter(Boolean).join(", ") || "nothing";
}

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
    out.push(el("button", { type: "button", class: "ok small", onclick: () => act(b, "approve") }, "Approve"));
    out.push(el("button", { type: "button", class: "danger small", onclick: (e) => askReject(b, e.currentTarget) }, "Reject"));
  }
  if (canCancel(b)) {
    out.push(confirmButton("Cancel", "Confirm cancel", () => act(b, "cancel")));
  }
  if (canComplete(b)) {
    out.push(confirmButton("End flight", "Confirm end", () => act(b, "complete")));
  }
  if (b.state === "active" || b.state === "completed" || b.state === "approved") {
    out.push(el("a", { class: "small", href: `/bookings/${b.id}/flights` }, "Flights"));
  }
  if (canSendFence(b)) {
    out.push(el("button", { type: "button", class: "small fence-send", onclick: (e) => sendFence(b, e.currentTarget) }, "Send fence"));
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

const FENCE_LABELS = {
  verified: "fence verified",
  uploaded: "fence uploaded (not verified)",
  mismatch: "fence mismatch",
  refused: "fence refused",
  not_supported: "fence not supported",
};

/** Return "fence: verified — 12 items read back identical" as an element. */
function fenceLine(report) {
  if (!report || !report.state) return el("p", { class: "fence-state muted" }, "Fence: not sent yet.");
  return el(
    "p",
    { class: `fence-state fence-${report.state}`, dataset: { fenceState: report.state } },
    el("strong", {}, FENCE_LABELS[report.state] || report.state),
    ` — ${report.reason}`,
  );
}

/** Upload the booking's fence to its drone (it reads it back), and show the answer. */
async function sendFence(b, button) {
  button.disabled = true;
  button.textContent = "Sending fence…";
  let report;
  try {
    report = await api(`bookings/${b.id}/fence`, { method: "POST" });
  } catch (err) {
    report = { state: "refused", reason: err.message };
  }
  button.disabled = false;
  button.textContent = "Send fence";
  document.querySelectorAll(`.fence-state[data-booking-id="${b.id}"]`).forEach((n) => n.remove());
  const line = fenceLine(report);
  line.dataset.bookingId = String(b.id);
  $("booking-detail").append(line);
  $("booking-detail").hidden = false;
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
  const reason = el("input", { "aria-label": `Reason to reject booking ${b.id}`, placeholder: "reason (optional)", maxlength: 500 });
  const go = el("button", { type: "button", class: "danger small" }, "Reject");
  go.addEventListener("click", () => act(b, "reject", { reason: reason.value }));
  button.replaceWith(el("span", { class: "reject-form" }, reason, go));
  reason.focus();
}

async function act(b, action, body) {
  const box = $("booking-detail");
  try {
    const updated = await api(`bookings/${b.id}/${action}`, { method: "POST", body });
    page.known.set(updated.id, updated);
    showResult(box, "ok", `Booking #${updated.id} is now ${updated.state}`, [
      `Drone ${updated.drone_id}, ${resources(updated)}, ${spanLabel(updated.start, updated.end, page.zone)}.`,
    ]);
  } catch (err) {
    const { title, lines } = explainRefusal(err, { known: page.known, timeZone: page.zone, action: capitalise(action) });
    showResult(box, "refused", title, lines);
  }
  await refresh();
}

const capitalise = (s) => s[0].toUpperCase() + s.slice(1);

function showBooking(b) {
  const box = $("booking-detail");
  box.className = "result";
  box.replaceChildren(
    el("h3", {}, `Booking #${b.id} · `, el("span", { class: `state state-${b.state}` }, b.state)),
    el("p", {}, `Drone ${b.drone_id} (${b.operator_id}), ${resources(b)}.`),
    el("p", {}, `${spanLabel(b.start, b.end, page.zone)} · ${utcSpanLabel(b.start, b.end)}`),
    el("div", { class: "form-actions" }, actionButtons(b)),
  );
  box.hidden = false;
  box.scrollIntoView({ block: "nearest" });
  if (b.state === "approved" || b.state === "active") {
    api(`bookings/${b.id}/fence`)
      .then((report) => {
        const line = fenceLine(report);
        line.dataset.bookingId = String(b.id);
        box.append(line);
      })
      .catch(() => {});
  }
}

function renderBookingTable(bookings) {
  if (!bookings.length) {
    $("booking-table").replaceChildren(el("p", { class: "muted" }, "No bookings you can see in this period."));
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
        el("td", {}, el("span", { class: `state state-${b.state}` }, b.state)),
        el("td", {}, el("div", { class: "actions" }, actionButtons(b))),
      ),
    );
  $("booking-table").replaceChildren(
    el(
      "table",
      {},
      el("thead", {}, el("tr", {}, ["Booking", "Drone", "Operator", "Pads and corridor", "Window (site time)", "State", ""].map((h) => el("th", { scope: "col" }, h)))),
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
        : el("p", { class: "muted" }, "Nothing is waiting for approval."),
    );
  } catch (err) {
    $("pending-list").replaceChildren(el("p", { class: "error" }, err.message));
  }
}

// ---- the booking form ---------------------------------------------------------

async function setUpBookingForm() {
  page.drones = await api(`drones?${new URLSearchParams({ site: page.site.id })}`);
  const drones = $("bk-drone");
  drones.replaceChildren(
    ...(page.drones.length ? [] : [new Option("— no drone registered —", "")]),
    ...page.drones.map((d) => new Option(`${d.name} (${d.id}${page.user.role === "site_admin" ? `, ${d.operator_id}` : ""})`, d.id)),
  );
  const padOptions = page.pads.map((p) => new Option(`${p.id} · ${p.name}${p.charger ? " ⚡" : ""} (max ${p.max_takeoff_mass_kg} kg)`, p.id));
  $("bk-takeoff").replaceChildren(new Option("— none —", ""), ...padOptions);
  $("bk-landing").replaceChildren(
    new Option("— same as take-off —", "="),
    new Option("— none —", ""),
    ...page.pads.map((p) => new Option(`${p.id} · ${p.name}`, p.id)),
  );
  $("bk-corridor").replaceChildren(
    new Option("— none —", ""),
    ...page.corridors.map((c) => new Option(`${c.id} · ${c.name} (${c.band})`, c.id)),
  );
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
    ? `Site time ${page.zone} (${utcOffsetLabel(page.zone, Date.parse(w.start))}): that is ${utcSpanLabel(w.start, w.end)}.`
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
  if (!droneId) problems.push("Pick a drone (register one first if the list is empty).");
  if (!w) problems.push("Give a date, a start and an end time.");
  else if (Date.parse(w.end) <= Date.parse(w.start)) problems.push("The end time must be after the start time.");
  if (!takeoff && !landing && !corridor) problems.push("Pick at least a pad or a corridor.");
  if (problems.length) {
    showResult(box, "refused", "Not sent: the form is incomplete", problems);
    return;
  }
  const body = { site_id: page.site.id, drone_id: droneId, ...w };
  if (takeoff) body.takeoff_pad_id = takeoff;
  if (landing) body.landing_pad_id = landing;
  if (corridor) body.corridor_id = corridor;
  try {
    const b = await api("bookings", { method: "POST", body });
    page.known.set(b.id, b);
    showResult(box, "ok", `Booking #${b.id} requested`, [
      `Drone ${b.drone_id}, ${resources(b)}, ${spanLabel(b.start, b.end, page.zone)} (${utcSpanLabel(b.start, b.end)}).`,
      `It is ${b.state}: a site admin approves it before the flight.`,
    ]);
    box.dataset.bookingId = String(b.id);
    const day = localDate(Date.parse(b.start), page.zone);
    if (day !== page.date && page.view === "day") {
      page.date = day;
      $("range-date").value = day;
    }
    await refresh();
  } catch (err) {
    await learnBookings(err.body?.booking_ids || []);
    const { title, lines } = explainRefusal(err, { known: page.known, timeZone: page.zone });
    showResult(box, "refused", title, lines);
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

function showResult(box, kind, title, lines) {
  box.className = `result ${kind}`;
  box.dataset.kind = kind;
  box.replaceChildren(el("h3", {}, title), ...lines.map((line) => el("p", {}, line)));
  box.hidden = false;
}

// ---- closures -------------------------------------------------------------------

function closureTarget(c) {
  if (c.target_kind === "pad") return `pad ${c.pad_id}`;
  if (c.target_kind === "corridor") return `corridor ${c.corridor_id}`;
  const band = c.floor_amsl_m !== null && c.floor_amsl_m !== undefined ? ` ${c.floor_amsl_m}–${c.ceiling_amsl_m} m AMSL` : "";
  return `an area${band}`;
}

function renderClosureTable(closures) {
  if (!closures.length) {
    $("closure-table").replaceChildren(el("p", { class: "muted" }, "No closures in this period."));
    return;
  }
  const manage = hasRole(page.user, CLOSURE_ROLES);
  $("closure-table").replaceChildren(
    el(
      "table",
      {},
      el("thead", {}, el("tr", {}, ["Closure", "What", "Window (site time)", "Reason", "By", ""].map((h) => el("th", { scope: "col" }, h)))),
      el(
        "tbody",
        {},
        closures.map((c) =>
          el(
            "tr",
            { dataset: { closureId: String(c.id) } },
            el("td", {}, `#${c.id}`),
            el("td", {}, closureTarget(c)),
            el("td", { title: utcSpanLabel(c.start, c.end) }, spanLabel(c.start, c.end, page.zone)),
            el("td", {}, c.reason),
            el("td", {}, c.created_by),
            el("td", {}, manage ? confirmButton("Delete", "Confirm delete", () => deleteClosure(c)) : null),
          ),
        ),
      ),
    ),
  );
}

function setUpClosureForm() {
  const target = $("cl-target");
  const group = (label, items, kind) => {
    const g = document.createElement("optgroup");
    g.label = label;
    g.append(...items.map((f) => new Option(`${f.id} · ${f.name}`, `${kind}:${f.id}`)));
    return g;
  };
  target.replaceChildren(group("Pads", page.pads, "pad"), group("Corridors", page.corridors, "corridor"));
  $("cl-date").value = page.date;
  const form = $("closure-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const box = $("closure-result");
    const w = formWindow("cl-date", "cl-start", "cl-end");
    const reason = $("cl-reason").value.trim();
    if (!w || !reason || Date.parse(w.end) <= Date.parse(w.start)) {
      showResult(box, "refused", "Not sent: the form is incomplete", ["Give a date, a start before the end, and a reason."]);
      return;
    }
    const [kind, id] = target.value.split(":");
    const body = { site_id: page.site.id, reason, ...w, [kind === "pad" ? "pad_id" : "corridor_id"]: id };
    try {
      const c = await api("closures", { method: "POST", body });
      const lines = [`${capitalise(closureTarget(c))} is closed ${spanLabel(c.start, c.end, page.zone)}: ${c.reason}.`];
      lines.push(
        c.bumped.length
          ? `Bumped bookings: ${c.bumped.map((b) => `#${b.id} (drone ${b.drone_id}, ${b.operator_id})`).join(", ")}.`
          : "No booking was bumped.",
      );
      if (c.active_booking_ids.length) {
        lines.push(`Flights under way in it now: bookings ${c.active_booking_ids.map((i) => `#${i}`).join(", ")} — tell their pilots.`);
      }
      showResult(box, "ok", `Closure #${c.id} created`, lines);
      await refresh();
    } catch (err) {
      const { title, lines } = explainRefusal(err, { known: page.known, timeZone: page.zone, action: "Closure" });
      showResult(box, "refused", title, lines);
    }
  });
}

async function deleteClosure(c) {
  const box = $("closure-result");
  try {
    await api(`closures/${c.id}`, { method: "DELETE" });
    showResult(box, "ok", `Closure #${c.id} deleted`, ["Bookings it bumped stay bumped; they must be requested again."]);
  } catch (err) {
    const { title, lines } = explainRefusal(err, { known: page.known, timeZone: page.zone, action: "Delete" });
    showResult(box, "refused", title, lines);
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
    showResult($("booking-detail"), "refused", "Could not download the plan", [err.message]);
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
    showResult($("booking-detail"), "refused", "Could not download the calendar", [err.message]);
  }
}

main().catch((err) => {
  $("timeline").replaceChildren(el("p", { class: "error" }, `The page could not start: ${err.message}`));
});

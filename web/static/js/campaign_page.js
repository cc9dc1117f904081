// The Flights view of an organisation over a date range: every flight of its
// bookings, from the campaign report's JSON (GET /reports/campaign), each row
// linking to its booking's Flights page and opening its charts. Safety officers
// and site admins choose any operator, or all; operators and pilots see their
// own organisation's (the API decides either way).

import { flightCharts } from "./flight_charts.js";
import { formatNumber, onLanguageChange, t } from "./i18n.js";
import { addDays, localDate, localToUtcMs } from "./time.js";
import { api, applyRole, chooseSite, el, hasRole, listSites, requireUser } from "./session.js";

const $ = (id) => document.getElementById(id);
const STAFF = ["safety_officer", "site_admin"];
const ALL = "";
const fmt = (v, digits = 1) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));
const view = { zone: "UTC", operators: [] };

/** The organisations a staff member may choose: those with a registered drone. */
async function knownOperators() {
  const drones = await api(`drones?${new URLSearchParams({ limit: 1000 })}`);
  return [...new Set(drones.map((d) => d.operator_id))].sort();
}

function row(operatorId, f) {
  return el("tr", { dataset: { bookingId: String(f.booking_id), flight: String(f.number) } },
    el("td", {}, operatorId),
    el("td", {}, el("a", { href: `/bookings/${f.booking_id}/flights` }, `#${f.booking_id}`)),
    el("td", {}, f.drone_id),
    el("td", {}, f.number),
    el("td", {}, f.takeoff_local.replace("T", " ").slice(0, 19)),
    el("td", {}, fmt(f.flight_time_s)),
    el("td", {}, fmt(f.ground_distance_m)),
    el("td", {}, fmt(f.max_alt_agl_m)),
    el("td", {}, f.incident_ids.length ? f.incident_ids.map((i) => el("a", { href: `/incidents/${i}` }, `#${i} `)) : t("ui.none")),
    el("td", {}, flightCharts(f.booking_id, f.number)),
  );
}

async function show() {
  const chosen = $("of-operator").value;
  const operators = chosen === ALL ? view.operators : [chosen];
  const from = new Date(localToUtcMs($("of-from").value, "00:00", view.zone)).toISOString();
  const to = new Date(localToUtcMs(addDays($("of-to").value, 1), "00:00", view.zone)).toISOString();
  $("of-status").textContent = t("ui.loading");
  const params = new URLSearchParams({ from, to });
  const reports = await Promise.all(operators.map(async (operator) => {
    params.set("operator", operator);
    return [operator, await api(`reports/campaign?${params}`)];
  }));
  const rows = reports.flatMap(([operator, r]) => r.flight_records.map((f) => [operator, f]));
  rows.sort((a, b) => a[1].takeoff_utc.localeCompare(b[1].takeoff_utc));
  const hours = reports.reduce((sum, [, r]) => sum + r.flight_hours, 0);
  const km = reports.reduce((sum, [, r]) => sum + r.distance_km, 0);
  const two = { minimumFractionDigits: 2, maximumFractionDigits: 2 };
  $("of-status").textContent = rows.length
    ? t("campaign.summary", { count: rows.length, hours: formatNumber(hours, two), km: formatNumber(km, two) })
    : t("campaign.none");
  $("of-table").hidden = rows.length === 0;
  $("of-rows").replaceChildren(...rows.map(([operator, f]) => row(operator, f)));
}

async function main() {
  const user = await requireUser();
  applyRole(user);
  const site = chooseSite(await listSites());
  view.zone = site?.timezone || "UTC";
  const params = new URLSearchParams(location.search);
  const today = localDate(Date.now(), view.zone);
  $("of-from").value = params.get("from") || addDays(today, -7);
  $("of-to").value = params.get("to") || addDays(today, 7);
  const select = $("of-operator");
  if (hasRole(user, STAFF)) {
    view.operators = await knownOperators();
    select.replaceChildren(
      el("option", { value: ALL }, t("campaign.all_operators")),
      ...view.operators.map((o) => el("option", { value: o }, o)),
    );
    select.value = params.get("operator") || ALL;
    $("of-operator-field").hidden = false;
  } else {
    view.operators = [user.operator_id];
    select.replaceChildren(el("option", { value: user.operator_id }, user.operator_id));
  }
  const reshow = () =>
    show().catch((err) => {
      $("of-status").textContent = t("flights.could_not_load", { reason: err.message });
    });
  $("of-range").addEventListener("submit", (event) => {
    event.preventDefault();
    reshow();
  });
  onLanguageChange(() => {
    const all = select.querySelector(`option[value="${ALL}"]`);
    if (all) all.textContent = t("campaign.all_operators");
    reshow();
  });
  await show();
}

main().catch((err) => {
  $("of-status").textContent = t("flights.could_not_load", { reason: err.message });
});

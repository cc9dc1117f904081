// The incident list (GET /api/v1/incidents), filtered in the page by state, kind,
// drone, operator and date. The route arrives with the incident-audit issue; until
// then this page says so instead of failing.

import { incidentSentence, whoOf } from "./event_sentences.js";
import { onLanguageChange, t, tValue } from "./i18n.js";
import { api, applyRole, chooseSite, el, listSites, requireUser, siteSelector } from "./session.js";
import { localDate, localTime, startClock, zoneAbbrev } from "./time.js";

const $ = (id) => document.getElementById(id);
const FILTERS = ["state", "kind", "drone_id", "operator_id"];
const FILTER_IDS = { state: "f-state", kind: "f-kind", drone_id: "f-drone", operator_id: "f-operator" };

const page = { zone: "UTC", incidents: [] };

async function main() {
  const user = await requireUser();
  applyRole(user);
  const sites = await listSites();
  const site = chooseSite(sites);
  if (site) {
    siteSelector($("site-select"), sites, site);
    page.zone = site.timezone || "UTC";
  }
  startClock($("clock"), page.zone);
  let incidents;
  try {
    const query = site ? `?${new URLSearchParams({ site: site.id })}` : "";
    incidents = await api(`incidents${query}`);
  } catch (err) {
    if (err.status === 404 || err.status === 405) {
      showUnavailable();
      return;
    }
    throw err;
  }
  page.incidents = Array.isArray(incidents) ? incidents : incidents.items || [];
  setUpFilters();
  render();
  onLanguageChange(render);
}

function showUnavailable() {
  $("incident-table").replaceChildren(
    el(
      "div",
      { class: "unavailable", dataset: { state: "unavailable" } },
      el("h2", {}, t("incidents.unavailable_title")),
      el(
        "p",
        { class: "muted" },
        t("incidents.unavailable_text"),
      ),
      el("p", {}, el("a", { href: "/map" }, t("incidents.go_to_map"))),
    ),
  );
}

function setUpFilters() {
  for (const key of FILTERS) {
    const values = [...new Set(page.incidents.map((i) => i[key]).filter(Boolean))].sort();
    $(FILTER_IDS[key]).append(...values.map((v) => new Option(key === "state" || key === "kind" ? tValue(`incident.${key}`, v) : String(v), v)));
  }
  const form = $("filters");
  form.hidden = false;
  form.addEventListener("input", render);
  form.addEventListener("reset", () => setTimeout(render));
}

function opened(i) {
  return Date.parse(i.opened_at || i.opened_utc || i.t_utc || 0);
}

function render() {
  const chosen = Object.fromEntries(FILTERS.map((k) => [k, $(FILTER_IDS[k]).value]));
  const day = $("f-date").value;
  const shown = page.incidents
    .filter((i) => FILTERS.every((k) => !chosen[k] || i[k] === chosen[k]))
    .filter((i) => !day || localDate(opened(i), page.zone) === day)
    .sort((a, b) => opened(b) - opened(a));
  if (!shown.length) {
    $("incident-table").replaceChildren(
      el("p", { class: "muted" }, page.incidents.length ? t("incidents.none_match") : t("incidents.none")),
    );
    return;
  }
  const zone = zoneAbbrev(page.zone);
  $("incident-table").replaceChildren(
    el(
      "table",
      {},
      el(
        "thead",
        {},
        el("tr", {}, ["incident", "opened", "kind", "severity", "state", "drone", "operator", "booking", "what"].map((h) => el("th", { scope: "col" }, t(`incidents.col.${h}`)))),
      ),
      el(
        "tbody",
        {},
        shown.map((i) =>
          el(
            "tr",
            { dataset: { incidentId: String(i.id) } },
            el("td", {}, el("a", { href: `/incidents/${encodeURIComponent(i.id)}`, class: "incident-link" }, `#${i.id}`)),
            el(
              "td",
              { title: new Date(opened(i)).toISOString() },
              `${localDate(opened(i), page.zone)} ${localTime(opened(i), page.zone, true)} ${zone}`,
            ),
            el("td", {}, tValue("incident.kind", i.kind)),
            el("td", {}, tValue("incident.severity", i.severity)),
            el("td", {}, el("span", { class: `state state-${i.state}` }, tValue("incident.state", i.state))),
            el("td", {}, i.drone_id || (i.sysid ? t("incidents.sysid", { sysid: i.sysid }) : t("incidents.unknown_drone"))),
            el("td", {}, i.operator_id || ""),
            el("td", {}, [i.booking_id && `#${i.booking_id}`, i.corridor_id].filter(Boolean).join(" · ")),
            // In the page language, from the kind and the drone (the stored
            // `message` is the gateway's English, kept for logs and exports).
            el("td", {}, incidentSentence(i, whoOf(null, i.drone_id, i.sysid))),
          ),
        ),
      ),
    ),
  );
}

main().catch((err) => {
  $("incident-table").replaceChildren(el("p", { class: "error" }, t("page.could_not_start", { reason: err.message })));
});

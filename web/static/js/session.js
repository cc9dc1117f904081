// The signed-in session: the bearer token (sessionStorage, one per tab), calls to
// the REST API with it, and showing only what the user's role may use. The API
// enforces every rule itself; hiding controls here only keeps pages uncluttered.

import { fieldErrorsLine } from "./field_errors.js";
import { LANGUAGES, currentLanguage, hasMessage, languageChosenHere, setLanguage, t } from "./i18n.js";

const TOKEN_KEY = "skyberth.token";
const USER_KEY = "skyberth.user";
export const API = "/api/v1";

/** Roles that may request and cancel bookings (their organisation's; admins: any). */
export const BOOKING_ROLES = ["operator", "pilot", "site_admin"];
/** Roles that may create and delete closures. */
export const CLOSURE_ROLES = ["site_admin", "safety_officer"];
/** Roles that may approve or reject pending bookings. */
export const APPROVER_ROLES = ["site_admin"];

export class ApiError extends Error {
  /**
   * A non-2xx answer: `status`, and `body` (parsed JSON when it was JSON).
   * `language` is the one the API wrote its `message`s in (its Content-Language:
   * the user's stored choice, else the page language the request asked for).
   */
  constructor(status, body, url, language = currentLanguage()) {
    super(describeError(status, body, language));
    this.status = status;
    this.body = body;
    this.url = url;
    this.language = language;
  }
}

function describeError(status, body, language) {
  if (body && typeof body === "object") {
    // `message` is for people, when in the page language; else the page's own
    // words for the refusal's code (error.<code>), else the English `detail`.
    if (typeof body.message === "string" && language === currentLanguage()) return body.message;
    if (typeof body.code === "string" && hasMessage(`error.${body.code}`) && !hasPlaceholders(`error.${body.code}`)) {
      return t(`error.${body.code}`);
    }
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail)) return fieldErrorsLine(body.detail);
  }
  return t("error.server_answered", { status });
}

export function saveToken(token) {
  sessionStorage.setItem(TOKEN_KEY, JSON.stringify(token));
}

export function token() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(TOKEN_KEY) || "null");
    if (!saved || !saved.access_token) return null;
    if (saved.expires_at && Date.parse(saved.expires_at) <= Date.now()) return null;
    return saved.access_token;
  } catch {
    return null;
  }
}

export function signOut(reason) {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
  const next = encodeURIComponent(location.pathname + location.search);
  const why = reason ? `&reason=${encodeURIComponent(reason)}` : "";
  location.assign(`/login?next=${next}${why}`);
}

/**
 * Call the API; resolve to the parsed JSON body (or text for non-JSON answers).
 * A 401 signs the user out (the token expired or was revoked); other errors reject
 * with an ApiError carrying the body, for the page to explain in words.
 */
export async function api(path, { method = "GET", body, form, raw = false } = {}) {
  // The API's human `message` comes in the page language; `rule` stays English.
  const headers = { Accept: "application/json", "Accept-Language": currentLanguage() };
  const bearer = token();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  let payload;
  if (form) {
    payload = new URLSearchParams(form);
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const url = path.startsWith("/") ? path : `${API}/${path}`;
  const response = await fetch(url, { method, headers, body: payload });
  if (response.status === 401 && bearer) {
    signOut(t("session.ended"));
    throw new ApiError(401, null, url);
  }
  if (raw && response.ok) return response;
  const type = response.headers.get("Content-Type") || "";
  const parsed = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, parsed, url, answerLanguage(response));
  return parsed;
}

/** Return the language an error answer is written in (Content-Language), or the page's. */
function answerLanguage(response) {
  const said = response.headers.get("Content-Language");
  return said in LANGUAGES ? said : currentLanguage();
}

/** Return whether message `key` needs values the page does not have ({name}). */
function hasPlaceholders(key) {
  return /\{\w+\}/.test(t(key));
}

/** Return the signed-in user ({id, name, role, operator_id}); go to /login if none. */
export async function requireUser() {
  if (!token()) {
    signOut();
    return new Promise(() => {}); // the page is being left
  }
  const cached = sessionStorage.getItem(USER_KEY);
  const me = cached ? JSON.parse(cached) : await api("auth/me");
  sessionStorage.setItem(USER_KEY, JSON.stringify(me));
  await syncLanguage(); // on every page: the choice may have changed in another tab
  return me;
}

/**
 * Follow the language the user stored on the server (their choice on any browser);
 * a choice made on this browser before it was stored (the login page) is stored.
 */
async function syncLanguage() {
  try {
    const choice = await api("me/language");
    if (!choice.stored && languageChosenHere()) await storeLanguage(currentLanguage());
    else if (choice.stored && choice.language !== currentLanguage()) await setLanguage(choice.language);
  } catch {
    // The page works in the browser's language without it.
  }
}

function storeLanguage(language) {
  return api("me/language", { method: "PUT", body: { language } });
}

if (typeof document !== "undefined") {
  document.addEventListener("skyberth:language", (event) => {
    if (event.detail.remember && token()) storeLanguage(event.detail.language).catch(() => {});
  });
}

export function hasRole(user, roles) {
  return roles.includes(user.role);
}

/**
 * Show elements whose `data-roles` lists the user's role (they start `hidden`) and
 * fill the top bar: who is signed in, the current page, sign-out.
 */
export function applyRole(user, root = document) {
  for (const el of root.querySelectorAll("[data-roles]")) {
    el.hidden = !el.dataset.roles.split(/\s+/).includes(user.role);
  }
  const who = document.getElementById("who");
  if (who) {
    const org = user.operator_id ? ` · ${user.operator_id}` : "";
    const showWho = () => (who.textContent = `${user.name} (${t(`role.${user.role}`)}${org})`);
    showWho();
    document.addEventListener("skyberth:language", showWho); // the role's name changes language
  }
  for (const link of document.querySelectorAll(".topbar nav a")) {
    if (link.getAttribute("href") === location.pathname) link.setAttribute("aria-current", "page");
  }
  const out = document.getElementById("sign-out");
  if (out) out.addEventListener("click", () => signOut());
}

/** Return the sites this server serves (GET /api/v1/sites). */
export function listSites() {
  return api("sites");
}

/** Pick the site from `?site=` or the first one; remember the choice in the URL. */
export function chooseSite(sites) {
  const wanted = new URLSearchParams(location.search).get("site");
  return sites.find((s) => s.id === wanted) || sites[0] || null;
}

/** Fill a <select> with the sites and reload the page on change (keeps ?site=). */
export function siteSelector(select, sites, current) {
  select.replaceChildren(
    ...sites.map((s) => new Option(`${s.name} (${s.id})`, s.id, false, s.id === current.id)),
  );
  select.hidden = sites.length < 2;
  select.addEventListener("change", () => {
    const params = new URLSearchParams(location.search);
    params.set("site", select.value);
    location.search = params.toString();
  });
}

/** Create an element: el("td", {class: "x", title: "y"}, "text", child...). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

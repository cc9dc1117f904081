// The pages' words in English or Traditional Chinese (Hong Kong). One catalogue per
// language, the server's own gettext catalogue as JSON (GET /i18n/{lang}.json);
// t(key, params) with CLDR plural rules (Intl.PluralRules); dates and numbers via
// Intl in the site's zone, Asia/Hong_Kong by default. Static HTML marks its text
// with data-i18n="key" and its attributes with data-i18n-attr="title:key;aria-label:key".

const LANG_KEY = "skyberth.lang";
export const LANGUAGES = { en: "English", "zh-Hant-HK": "繁體中文" };
export const DEFAULT_ZONE = "Asia/Hong_Kong";
/** The Intl locale of each language: British English for dates (24 h, day first). */
const INTL_LOCALE = { en: "en-GB", "zh-Hant-HK": "zh-Hant-HK" };
const inBrowser = typeof document !== "undefined";

/** Return the served language the browser prefers (any Chinese: zh-Hant-HK). */
export function browserLanguage(preferred = inBrowser ? navigator.languages || [navigator.language] : []) {
  for (const tag of preferred) {
    const primary = String(tag).toLowerCase().slice(0, 2);
    if (primary === "zh") return "zh-Hant-HK";
    if (primary === "en") return "en";
  }
  return "en";
}

function chosenLanguage() {
  const saved = inBrowser ? localStorage.getItem(LANG_KEY) : null;
  return saved in LANGUAGES ? saved : null;
}

async function load(language) {
  // Outside a browser (node's unit tests) the catalogues are given beforehand.
  if (!inBrowser) return globalThis.SKYBERTH_MESSAGES?.[language] ?? {};
  const response = await fetch(`/i18n/${language}.json`, { headers: { Accept: "application/json" } });
  return response.ok ? response.json() : {};
}

let language = chosenLanguage() || browserLanguage();
let english = await load("en");
let messages = language === "en" ? english : await load(language);
let plural = new Intl.PluralRules(INTL_LOCALE[language]);

/** Return the page language ("en" or "zh-Hant-HK"). */
export function currentLanguage() {
  return language;
}

/** Return the Intl locale for dates and numbers in the page language. */
export function intlLocale() {
  return INTL_LOCALE[language];
}

/** Return whether the user picked the language on this browser (not the default). */
export function languageChosenHere() {
  return chosenLanguage() !== null;
}

/**
 * Return message `key` with {name} filled from `params`. A numeric `count` picks the
 * plural form (`key.one`, `key.other`, ...). A missing key shows as the key itself.
 */
export function t(key, params = {}) {
  let k = key;
  if (typeof params.count === "number" && !(k in messages)) {
    const form = `${key}.${plural.select(params.count)}`;
    k = form in messages || form in english ? form : `${key}.other`;
  }
  const text = messages[k] ?? english[k] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** Return whether the catalogue has message `key` (in the page language or English). */
export function hasMessage(key) {
  return key in messages || key in english;
}

/**
 * Return the words for an API enum value (`prefix.value`, e.g. incident.state.open);
 * a value the catalogue does not know yet is shown as it is, underscores as spaces.
 */
export function tValue(prefix, value) {
  if (value === undefined || value === null || value === "") return "";
  const key = `${prefix}.${value}`;
  return messages[key] ?? english[key] ?? String(value).replaceAll("_", " ");
}

/** Return `value` as a number in the page language (Intl.NumberFormat options). */
export function formatNumber(value, options = {}) {
  return new Intl.NumberFormat(intlLocale(), options).format(value);
}

/** Return `items` as one list in the page language ("#3, #4 and #5", "#3、#4及#5"). */
export function formatList(items) {
  return new Intl.ListFormat(intlLocale(), { type: "conjunction" }).format(items.map(String));
}

/** Return instant `ms` as a date and time in `timeZone` (Intl.DateTimeFormat options). */
export function formatDateTime(ms, options = { dateStyle: "medium", timeStyle: "short" }, timeZone = DEFAULT_ZONE) {
  return new Intl.DateTimeFormat(intlLocale(), { timeZone, hourCycle: "h23", ...options }).format(new Date(ms));
}

/** Put the page language into every data-i18n element and attribute under `root`. */
export function applyTranslations(root = document) {
  if (root === document) document.documentElement.lang = language;
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of node.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":").map((s) => s.trim());
      if (attr && key) node.setAttribute(attr, t(key));
    }
  }
}

/**
 * Switch the page to `next` without reloading it: static text is replaced in place
 * and a "skyberth:language" event lets the page redraw what it built itself, so
 * forms, the map view and the selection stay as they were.
 */
export async function setLanguage(next, { remember = true } = {}) {
  if (!(next in LANGUAGES)) return;
  if (remember && inBrowser) localStorage.setItem(LANG_KEY, next);
  if (next === language) return;
  messages = next === "en" ? english : await load(next);
  language = next;
  plural = new Intl.PluralRules(INTL_LOCALE[language]);
  applyTranslations();
  for (const select of document.querySelectorAll(".lang-select")) select.value = language;
  document.dispatchEvent(new CustomEvent("skyberth:language", { detail: { language, remember } }));
}

/** Call `redraw` after every language switch (the page's own text). */
export function onLanguageChange(redraw) {
  document.addEventListener("skyberth:language", () => redraw());
}

/** Add the language switch to the page's top bar (or the start of <main>). */
function installSwitch() {
  if (document.querySelector(".lang-select")) return;
  const select = document.createElement("select");
  select.className = "lang-select";
  select.dataset.i18nAttr = "aria-label:lang.switch;title:lang.switch";
  for (const [tag, name] of Object.entries(LANGUAGES)) {
    const option = new Option(name, tag, false, tag === language);
    option.lang = tag;
    select.append(option);
  }
  select.addEventListener("change", () => setLanguage(select.value));
  const anchor = document.querySelector(".topbar #clock") || null;
  const bar = document.querySelector(".topbar") || document.querySelector("main") || document.body;
  bar.insertBefore(select, anchor && anchor.parentNode === bar ? anchor : bar.firstChild);
}

if (inBrowser) {
  installSwitch();
  applyTranslations();
}

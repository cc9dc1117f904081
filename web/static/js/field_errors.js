// A 422's field errors in the page language. The API gives each entry (`loc`,
// `type`, `msg`, `ctx`) a `message` in the language the page asked for
// (Accept-Language); pydantic's `msg` stays English, for machines.

import { currentLanguage, t, tValue } from "./i18n.js";

/**
 * Return a 422 entry's problem in words: the API's `message` when the answer came
 * in the page language (`answeredIn`; after a switch it is the other one), else
 * the catalogue's validation.<type> with the entry's values (`ctx`), else its `msg`.
 */
export function fieldProblem(d, answeredIn = currentLanguage()) {
  if (typeof d.message === "string" && d.message && answeredIn === currentLanguage()) return d.message;
  const key = `validation.${d.type}`;
  const words = t(key, d.ctx || {});
  return words === key ? d.msg : words;
}

/** Return the request field a 422 entry names, in words ("start", "area (HK1980 Grid)"). */
export function fieldName(loc) {
  const parts = (loc || []).filter((p) => !["body", "query", "path"].includes(p));
  if (!parts.length) return t("refusal.request");
  return parts.map((p) => (typeof p === "string" ? tValue("field", p) : String(p + 1))).join(" › ");
}

/** Return a 422 body's entries as one line: "start: …; end: …". */
export function fieldErrorsLine(detail, answeredIn = currentLanguage()) {
  return detail
    .map((d) => t("refusal.field_error", { field: fieldName(d.loc), message: fieldProblem(d, answeredIn) }))
    .join(t("field_errors.separator"));
}

// Import first in a test of a translated script: gives i18n.js the site's own
// catalogues (the .po files the server serves as /i18n/{lang}.json), so t() answers
// in English as on a page, not with bare keys.
import { readFileSync } from "node:fs";

const LOCALES = { en: "en", "zh-Hant-HK": "zh_Hant_HK" };

/** Return the messages of one .po file by key (one-line and continued strings). */
export function readPo(path) {
  const messages = {};
  let field = null;
  const entry = { msgid: "", msgstr: "" };
  const flush = () => {
    if (entry.msgid && entry.msgstr) messages[entry.msgid] = entry.msgstr;
    entry.msgid = "";
    entry.msgstr = "";
  };
  for (const line of readFileSync(path, "utf-8").split("\n")) {
    const start = line.match(/^(msgid|msgstr) (".*")$/);
    if (start) {
      if (start[1] === "msgid") flush();
      field = start[1];
      entry[field] = JSON.parse(start[2]);
    } else if (field && /^".*"$/.test(line)) {
      entry[field] += JSON.parse(line);
    } else {
      field = null;
    }
  }
  flush();
  return messages;
}

globalThis.SKYBERTH_MESSAGES = Object.fromEntries(
  Object.entries(LOCALES).map(([language, locale]) => [
    language,
    readPo(new URL(`../../locale/${locale}/LC_MESSAGES/messages.po`, import.meta.url)),
  ]),
);

import assert from "node:assert/strict";
import { test } from "node:test";

import "./catalogue.mjs";
import { explainRefusal } from "../../static/js/refusal.js";
import { ApiError } from "../../static/js/session.js";

// The page is in English (catalogue.mjs); the API may answer in the user's
// stored language instead, and says which in Content-Language.
const period = {
  detail: "the period is empty: 'to' <= 'from'",
  code: "period_empty",
  message: "期間為空：「至」須遲於「由」",
};

test("a refusal answered in the page language shows the API's message", () => {
  const err = new ApiError(422, { ...period, message: "the period is empty: 'to' <= 'from'" }, "/x", "en");
  assert.equal(err.message, "the period is empty: 'to' <= 'from'");
  assert.equal(err.language, "en");
});

test("a refusal answered in another language is worded by its code", () => {
  const err = new ApiError(422, period, "/x", "zh-Hant-HK");
  assert.equal(err.message, "The period is empty: 'to' must be after 'from'");
});

test("a code whose words need values the page lacks falls back to the English detail", () => {
  const throttled = {
    detail: "too many failed logins: try again in 42 s",
    code: "login_throttled",
    message: "登入失敗次數過多：請於 42 秒後再試",
  };
  assert.equal(new ApiError(429, throttled, "/x", "zh-Hant-HK").message, throttled.detail);
});

test("a route's own refusal reads as a sentence in the explanation", () => {
  const fence = {
    detail: "booking 41 is pending: only an approved or active booking has airspace to send",
    code: "fence_not_sendable",
    message: "booking 41 is pending: only an approved or active booking has airspace to send",
  };
  const { title, lines } = explainRefusal(new ApiError(409, fence, "/x", "en"), { action: "booking" });
  assert.match(title, /conflict/i);
  assert.deepEqual(lines, ["Booking 41 is pending: only an approved or active booking has airspace to send."]);
});

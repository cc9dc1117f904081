import assert from "node:assert/strict";
import { test } from "node:test";

import "./catalogue.mjs";
import { fieldErrorsLine, fieldName, fieldProblem } from "../../static/js/field_errors.js";

test("a 422's entries read as one line, each field named in words", () => {
  const line = fieldErrorsLine([
    { loc: ["body", "start"], type: "timezone_aware", msg: "Input should have timezone info", message: "must give its time zone" },
    { loc: ["body", "drone_id"], type: "missing", msg: "Field required", message: "is required" },
  ]);
  assert.equal(line, "start: must give its time zone; drone: is required");
});

test("without the API's message, the catalogue's words with the entry's values, else pydantic's msg", () => {
  assert.equal(fieldProblem({ type: "greater_than", ctx: { gt: 0 }, msg: "Input should be greater than 0" }), "must be greater than 0");
  assert.equal(fieldProblem({ type: "no_such_type", msg: "Something odd" }), "Something odd");
});

test("a query parameter and a list position are named too", () => {
  assert.equal(fieldName(["query", "site_id"]), "site");
  assert.equal(fieldName(["body", "area", "coordinates", 0]), "area (WGS84) › vertices › 1");
  assert.equal(fieldName([]), "request");
});

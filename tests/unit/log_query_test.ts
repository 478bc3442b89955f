/** Log filters, on entries alone: level, function, request, deployment, time and text. */
import assert from "node:assert/strict";
import { matches } from "../../runtime/logs/query.ts";
import type { LogEntry } from "../../runtime/logs/types.ts";

const ENTRY: LogEntry = {
  id: "1700000000000-0",
  time: "2026-01-01T00:00:10.000Z",
  level: "warn",
  type: "console",
  app_id: "shop",
  environment: "production",
  deployment_id: "dpl_1",
  function: "api/a.ts",
  request_id: "req_1",
  message: "Cart is EMPTY",
};

Deno.test("a level filter keeps that level and above", () => {
  assert.ok(matches(ENTRY, { level: "info" }));
  assert.ok(matches(ENTRY, { level: "warn" }));
  assert.ok(!matches(ENTRY, { level: "error" }));
});

Deno.test("function, request and deployment filters are exact", () => {
  assert.ok(matches(ENTRY, { function: "api/a.ts", requestId: "req_1", deployment: "dpl_1" }));
  assert.ok(!matches(ENTRY, { function: "api/b.ts" }));
  assert.ok(!matches(ENTRY, { requestId: "req_2" }));
  assert.ok(!matches(ENTRY, { deployment: "dpl_2" }));
});

Deno.test("since is inclusive, until exclusive, and text search ignores case", () => {
  const at = Date.parse(ENTRY.time);
  assert.ok(matches(ENTRY, { since: at, until: at + 1 }));
  assert.ok(!matches(ENTRY, { until: at }));
  assert.ok(!matches(ENTRY, { since: at + 1 }));
  assert.ok(matches(ENTRY, { q: "cart is empty" }));
  assert.ok(!matches(ENTRY, { q: "full" }));
});

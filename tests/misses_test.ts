/**
 * Requests that hit no function are logged under their app, one 404 request entry a window with
 * a count of the misses since the last one, so anonymous probes cannot flush an app's history.
 */
import assert from "node:assert/strict";
import { MissReports } from "../runtime/invoke/misses.ts";
import { appId, serverTest } from "./helpers.ts";

const miss = (path: string) => ({
  appId: "shop",
  environment: "production",
  deploymentId: "dpl_0",
  requestId: "req_0",
  method: "GET",
  path,
});

Deno.test("misses: one entry a window per app, counting the misses since the last", () => {
  let now = 1_000_000;
  const reports = new MissReports(60_000, () => now);
  const first = reports.report(miss("/functions/a"));
  assert.equal(first?.status, 404);
  assert.equal(first?.type, "request");
  assert.equal(first?.path, "/functions/a");
  assert.match(first!.message, /^GET \/functions\/a 404: .*\(1 request to no function/);
  for (let i = 0; i < 50; i++) assert.equal(reports.report(miss(`/functions/x${i}`)), null);
  assert.notEqual(reports.report({ ...miss("/functions/b"), appId: "other" }), null);
  now += 60_000;
  assert.match(reports.report(miss("/functions/c"))!.message, /\(51 requests to no function/);
  assert.ok(reports.report(miss(`/functions/${"p".repeat(5000)}`)) === null);
  now += 60_000;
  assert.ok(reports.report(miss(`/functions/${"p".repeat(5000)}`))!.path!.length < 600);
});

serverTest("a request to no function is logged under the app, sampled per window", async (s) => {
  const app = appId("misses");
  await s.deployOk(app, { "api/hello.ts": "export default () => ({ body: 'hi' });" });
  for (let i = 0; i < 30; i++) {
    const response = await s.call(app, `/probe-${i}`);
    assert.equal(response.status, 404);
    await response.body?.cancel();
  }
  let entries: Awaited<ReturnType<typeof s.logs>> = [];
  for (let tries = 0; tries < 40 && entries.length === 0; tries++) {
    entries = await s.logs(app, "q=no%20function&limit=100");
    if (entries.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(entries.length, 1, "one entry for 30 misses in a window");
  assert.equal(entries[0]!.status, 404);
  assert.equal(entries[0]!.path, "/functions/probe-0");
  assert.equal(entries[0]!.environment, "production");
  // The environment filter: production's entries, not another environment's.
  assert.equal((await s.logs(app, "environment=staging&q=no%20function")).length, 0);
  assert.equal((await s.logs(app, "environment=production&q=no%20function")).length, 1);
});

/** ctx.waitUntil: work after the response, within the request's time budget, logged under its id. */
import assert from "node:assert/strict";
import { appId, json, startServer, suite, waitFor } from "./helpers.ts";

const test = suite(() => startServer({ env: { FUNCTION_TIMEOUT_MS: "1500" } }));

test("waitUntil work finishes after the response and logs under the request's id", async (s) => {
  const app = appId("wait");
  await s.deployOk(app, {
    "api/later.ts": `export default (ctx) => {
      ctx.waitUntil((async () => {
        await new Promise((r) => setTimeout(r, 1000));
        await ctx.kv.set("after", "written");
        console.log("background done");
      })());
      return { body: "answered" };
    };`,
    "api/read.ts": `export default async (ctx) => ({ body: { after: await ctx.kv.get("after") } })`,
  });
  const started = performance.now();
  const response = await s.call(app, "/later");
  const requestId = response.headers.get("x-request-id")!;
  assert.equal(await response.text(), "answered");
  assert.ok(performance.now() - started < 800, "the response waited for the background work");
  assert.deepEqual(await json(await s.call(app, "/read"), 200), { after: null });
  await waitFor("the background work's log line", async () => {
    const entries = await s.logs(app, `request_id=${requestId}`);
    return entries.some((e) => e.message === "background done");
  }, 5000);
  assert.deepEqual(await json(await s.call(app, "/read"), 200), { after: "written" });
});

test("waitUntil work that fails is logged at error under the request's id", async (s) => {
  const app = appId("wait");
  await s.deployOk(app, {
    "api/fail.ts": `export default (ctx) => {
      ctx.waitUntil(Promise.reject(new Error("background broke")));
      return { body: "ok" };
    };`,
  });
  const response = await s.call(app, "/fail");
  const requestId = response.headers.get("x-request-id")!;
  assert.equal(await response.text(), "ok");
  await waitFor("the failure's log entry", async () => {
    const entries = await s.logs(app, `request_id=${requestId}&level=error`);
    return entries.some((e) =>
      /ctx\.waitUntil work failed: Error: background broke/.test(e.message)
    );
  }, 5000);
});

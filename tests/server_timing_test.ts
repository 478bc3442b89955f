/** Server-Timing on every function response: where the time went, with KV and fetch counts. */
import assert from "node:assert/strict";
import { API_KEY, appId, json, serverTest } from "./helpers.ts";

/** A metric of the header: its duration, and its description if any. */
type Metric = { dur: number; desc: string | undefined };

function timing(header: string | null): Record<string, Metric> {
  assert.ok(header, "no Server-Timing header");
  const out: Record<string, Metric> = {};
  for (const part of header.split(",")) {
    const [name = "", ...params] = part.trim().split(";");
    const fields = Object.fromEntries(params.map((p) => p.split("=")));
    out[name] = { dur: Number(fields.dur), desc: fields.desc?.replace(/"/g, "") };
  }
  return out;
}

/** The metric `name` of a parsed header; fails the test when it is missing. */
function metric(t: Record<string, Metric>, name: string): Metric {
  const found = t[name];
  assert.ok(found, `${name} is missing`);
  return found;
}

serverTest("a function response carries Server-Timing with KV calls counted", async (s) => {
  const app = appId("timing");
  await s.deployOk(app, {
    "api/kv.ts":
      `export default async (ctx) => { await ctx.kv.set("a", "1"); await ctx.kv.get("a"); return {}; }`,
  });
  const response = await s.call(app, "/kv", { headers: { "x-platform-key": API_KEY } });
  await response.body?.cancel();
  const t = timing(response.headers.get("server-timing"));
  for (const name of ["total", "queue", "sandbox", "handler", "kv", "fetch"]) {
    assert.ok(Number.isFinite(t[name]?.dur), `${name} is missing`);
  }
  assert.equal(metric(t, "kv").desc, "2 calls");
  assert.equal(metric(t, "fetch").desc, "0 calls");
  assert.ok(metric(t, "total").dur >= metric(t, "handler").dur);
});

serverTest("error responses carry Server-Timing too", async (s) => {
  const app = appId("timing");
  await s.deployOk(app, { "api/bad.ts": `export default () => { throw new Error("no"); }` });
  const response = await s.call(app, "/bad");
  await response.body?.cancel();
  assert.equal(response.status, 500);
  assert.ok(timing(response.headers.get("server-timing")).total);
});

serverTest(
  "queue and sandbox figures only go to requests with the app's key or the admin key",
  async (s) => {
    const [app, other] = [appId("timing"), appId("timing-other")];
    await s.deployOk(app, { "api/hi.ts": `export default () => ({ body: "hi" })` });
    const own = await json<{ key: string }>(
      await s.api(`/apps/${app}/keys`, { method: "POST" }),
      201,
    );
    const foreign = await json<{ key: string }>(
      await s.api(`/apps/${other}/keys`, { method: "POST" }),
      201,
    );
    const names = async (headers: Record<string, string>) => {
      const response = await s.call(app, "/hi", { headers });
      await response.body?.cancel();
      return Object.keys(timing(response.headers.get("server-timing"))).sort();
    };
    const full = ["fetch", "handler", "kv", "queue", "sandbox", "total"];
    assert.deepEqual(await names({}), ["handler", "total"]);
    assert.deepEqual(await names({ "x-platform-key": foreign.key }), ["handler", "total"]);
    assert.deepEqual(await names({ "x-platform-key": "not-a-key" }), ["handler", "total"]);
    assert.deepEqual(await names({ authorization: "Bearer some-jwt-of-the-app" }), [
      "handler",
      "total",
    ]);
    assert.deepEqual(await names({ "x-platform-key": own.key }), full);
    assert.deepEqual(await names({ authorization: `Bearer ${own.key}` }), full);
    assert.deepEqual(await names({ "x-platform-key": API_KEY }), full);
  },
);

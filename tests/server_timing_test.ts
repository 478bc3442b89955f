/** Server-Timing on every function response: where the time went, with KV and fetch counts. */
import assert from "node:assert/strict";
import { appId, serverTest } from "./helpers.ts";

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
  const response = await s.call(app, "/kv");
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

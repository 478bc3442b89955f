/** Cron declared in code: runs on schedule, once per tick across instances, listed and run by hand. */
import assert from "node:assert/strict";
import { MAX_KV_REPLY_BYTES } from "../runtime/kv/types.ts";
import { appId, json, serverTest, twoInstancesTest, waitFor } from "./helpers.ts";

/** A job that runs every second and counts its runs per tick in KV. */
const EVERY_SECOND = {
  "api/tick.ts": `export const schedule = { cron: "* * * * * *", timezone: "Europe/Paris" };
export default async (ctx) => {
  await ctx.kv.incr("tick:" + ctx.req.headers["x-scheduled-at"]);
  await ctx.kv.set("method", ctx.req.method);
  return { body: "ticked" };
};`,
};

interface Listing {
  schedules: Array<{
    function: string;
    environment: string;
    cron: string;
    timezone: string;
    next_run: string;
    history: Array<{ outcome: string; status: number; request_id: string; trigger: string }>;
  }>;
}

serverTest(
  "a route file's schedule runs its handler every tick with method SCHEDULED",
  async (s) => {
    const app = appId("cron");
    await s.deployOk(app, EVERY_SECOND);
    await waitFor("two runs", async () => {
      const { keys } = await s.platform.kv.list(app, { prefix: "tick:", cursor: null, limit: 10 });
      return keys.length >= 2;
    }, 6000);
    assert.equal(await s.platform.kv.get(app, "method"), "SCHEDULED");
    const listing = await json<Listing>(await s.api(`/apps/${app}/schedules`), 200);
    assert.equal(listing.schedules.length, 1);
    const job = listing.schedules[0]!;
    assert.equal(job.function, "api/tick.ts");
    assert.equal(job.timezone, "Europe/Paris");
    assert.ok(Date.parse(job.next_run) > Date.now() - 1000);
    assert.ok(job.history.length >= 1);
    assert.equal(job.history[0]!.outcome, "ok");
    // Its runs are in the logs under their request ids.
    const entries = await s.logs(app, `request_id=${job.history[0]!.request_id}`);
    assert.ok(entries.some((e) => e.type === "request" && /^SCHEDULED /.test(e.message)));
    // Run it by hand.
    const run = await json(
      await s.api(`/apps/${app}/schedules/run`, { json: { function: "api/tick.ts" } }),
      200,
    );
    assert.equal(run.outcome, "ok");
    assert.equal(run.trigger, "manual");
  },
);

serverTest("a schedule runs only in production unless it names other environments", async (s) => {
  const app = appId("cron");
  await s.deployOk(app, EVERY_SECOND, { environment: "preview" });
  await s.deployOk(app, {
    "api/both.ts":
      `export const schedule = { cron: "* * * * * *", environments: ["preview"] }; export default async (ctx) => { await ctx.kv.incr("both"); return {}; };`,
  }, { environment: "preview" });
  await new Promise((resolve) => setTimeout(resolve, 2500));
  const listing = await json<Listing>(await s.api(`/apps/${app}/schedules`), 200);
  assert.deepEqual(listing.schedules.map((j) => `${j.environment}:${j.function}`), [
    "preview:api/both.ts",
  ]);
  assert.ok(Number(await s.platform.kv.get(app, "both")) >= 1);
  const missing = await s.api(`/apps/${app}/schedules/run`, {
    json: { function: "api/tick.ts", environment: "preview" },
  });
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});

serverTest("a malformed schedule is refused at deploy naming the file", async (s) => {
  for (
    const [schedule, pattern] of [
      [`{ cron: "every minute" }`, /schedule: .*five or six/],
      [`{ cron: "* * * * *", timezone: "Mars/Base" }`, /schedule: .*time zone/i],
      [`"*/5 * * * *"`, /schedule: must be an object/],
      [`{ cron: "* * * * *", environments: ["Prod!"] }`, /environments must be a list/],
    ] as const
  ) {
    const body = await json<{ error: string; diagnostics: Array<{ file: string }> }>(
      await s.deploy(appId("cron"), {
        "api/job.ts": `export const schedule = ${schedule}; export default () => ({});`,
      }),
      400,
    );
    assert.equal(body.diagnostics[0]!.file, "api/job.ts");
    assert.match(String(body.error), pattern);
  }
});

twoInstancesTest(
  "[redis] a per-second job on two instances runs exactly once per tick",
  async (a, _b) => {
    const app = appId("cron");
    await a.deployOk(app, EVERY_SECOND);
    await new Promise((resolve) => setTimeout(resolve, 3500));
    // Remove the job, then count what ran.
    await a.deployOk(app, { "api/tick.ts": "export default () => ({})" });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const { keys } = await a.platform.kv.list(app, { prefix: "tick:", cursor: null, limit: 100 });
    assert.ok(keys.length >= 2, `only ${keys.length} ticks ran`);
    const counts = await a.platform.kv.getMany(app, keys, MAX_KV_REPLY_BYTES);
    assert.deepEqual(counts, keys.map(() => "1"), "a tick ran more than once");
  },
);

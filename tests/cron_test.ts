/** Cron declared in code: runs on schedule, once per tick across instances, listed and run by hand. */
import assert from "node:assert/strict";
import { MAX_KV_REPLY_BYTES } from "../runtime/kv/types.ts";
import { FileStore } from "../runtime/store/file.ts";
import {
  API_KEY,
  appId,
  backends,
  json,
  serverTest,
  sharedRedis,
  startServer,
  type TestServer,
  twoInstancesTest,
  waitFor,
} from "./helpers.ts";

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
    // Run it by hand. A run never overlaps the job's own tick (that one is recorded as
    // skipped, tested below), and this job ticks every second: try again past such a tick.
    const runByHand = async () =>
      await json(
        await s.api(`/apps/${app}/schedules/run`, { json: { function: "api/tick.ts" } }),
        200,
      );
    let run = await runByHand();
    for (let i = 0; i < 10 && run.outcome === "skipped"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      run = await runByHand();
    }
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
      [`{ cron: "0 0 30 2 *" }`, /schedule: 0 0 30 2 \* never runs/],
      [`{ cron: "* * * * *", timezone: "A".repeat(100_000) }`, /timezone must be an IANA/],
      [
        `{ cron: "* * * * *", environments: Array.from({ length: 100_000 }, (_, i) => "e" + i) }`,
        /environments must be a list of environment names, like \["production"\] \(at most 64\)/,
      ],
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

serverTest(
  "of several expressions that never run, the first is refused and no other is searched",
  async (s) => {
    // croner searches for the next run of each until its stack gives out (milliseconds each):
    // the host tries the first and stops.
    const files = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [
      `api/job${String(i).padStart(2, "0")}.ts`,
      `export const schedule = { cron: "59 59 23 31 2,4,6,9,11 *" }; export default () => ({});`,
    ]));
    const body = await json<{ diagnostics: Array<{ file: string; message: string }> }>(
      await s.deploy(appId("cron"), files),
      400,
    );
    assert.deepEqual(body.diagnostics.map((d) => d.file), ["api/job00.ts"]);
  },
);

serverTest(
  "a deploy declaring more than 20 cron jobs for one environment is refused naming the count",
  async (s) => {
    const files = (n: number, environments = '["production"]') =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [
        `api/job${String(i).padStart(2, "0")}.ts`,
        `export const schedule = { cron: "0 0 1 1 *", environments: ${environments} };
       export default () => ({});`,
      ]));
    const app = appId("cron");
    const body = await json<
      { error: string; diagnostics: Array<{ file: string; message: string }> }
    >(
      await s.deploy(app, files(21)),
      400,
    );
    assert.match(
      body.diagnostics[0]!.message,
      /21 cron jobs would run in environment "production"; the limit is 20 per app environment/,
    );
    assert.equal(body.diagnostics[0]!.file, "api/job20.ts");
    // Twenty is within the limit, and so are twenty in each of two environments.
    await s.deployOk(app, files(20));
    await s.deployOk(appId("cron"), {
      ...files(20),
      ...Object.fromEntries(
        Object.entries(files(20, '["preview"]')).map(([file, code]) => [`api/p/${file}`, code]),
      ),
    });
  },
);

serverTest(
  "a job never overlaps itself: a tick that finds the last run going is recorded as skipped",
  async (s) => {
    const app = appId("cron");
    await s.deployOk(app, {
      "api/slow.ts": `export const schedule = { cron: "* * * * * *" };
export default async (ctx) => {
  if (await ctx.kv.incr("active") > 1) await ctx.kv.set("overlapped", "yes");
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await ctx.kv.incr("active", -1);
  await ctx.kv.incr("runs");
  return {};
};`,
    });
    const listing = async () => await json<Listing>(await s.api(`/apps/${app}/schedules`), 200);
    await waitFor("a skipped tick", async () => {
      const [job] = (await listing()).schedules;
      return (job?.history ?? []).some((run) => run.outcome === "skipped");
    }, 6000);
    // A manual run while one is going is skipped too.
    const manual = await json(
      await s.api(`/apps/${app}/schedules/run`, { json: { function: "api/slow.ts" } }),
      200,
    );
    assert.equal(manual.outcome, "skipped");
    await waitFor("a completed run", async () => Number(await s.platform.kv.get(app, "runs")) >= 1);
    assert.equal(await s.platform.kv.get(app, "overlapped"), null);
    const skipped = (await listing()).schedules[0]!.history.find((r) => r.outcome === "skipped")!;
    assert.equal(skipped.status, 0);
    assert.equal(skipped.request_id, "");
    await s.deployOk(app, { "api/slow.ts": "export default () => ({})" });
  },
);

Deno.test("claims cost O(1) amortised: 300,000 claims (500 per-second jobs for 10 minutes) stay linear", async () => {
  // Before, each claim walked every claim of the last 10 minutes: this took hours.
  const store = new FileStore(await Deno.makeTempDir({ prefix: "fn-claims-" }));
  const start = performance.now();
  for (let i = 0; i < 300_000; i++) {
    assert.equal(await store.claimTick(`job${i % 500}:${i}`, 600_000), true);
    if (i % 10_000 === 0) {
      assert.ok(performance.now() - start < 10_000, `${i} claims took over 10 s`);
    }
  }
  assert.equal(await store.claimTick("job0:0", 600_000), false);
});

for (const backend of ["embedded", "redis", "redis-tcp"] as const) {
  Deno.test({
    name:
      `[${backend}] an app's schedules pause and resume (its own key may), and stay paused across a restart`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const env = backend === "embedded"
        ? {}
        : Object.fromEntries((await sharedRedis()).variants)[backend]!;
      const dataDir = await Deno.makeTempDir({ prefix: "fn-test-" });
      const app = appId("paused");
      const ticks = async (s: TestServer) =>
        (await s.platform.kv.list(app, { prefix: "tick:", cursor: null, limit: 100 })).keys.length;
      let s = await startServer({ env, dataDir });
      try {
        await s.deployOk(app, EVERY_SECOND);
        const { key } = await json<{ key: string }>(
          await s.api(`/apps/${app}/keys`, { method: "POST" }),
          201,
        );
        await waitFor("a tick", async () => await ticks(s) >= 1, 4000);
        // The CLI, with the app's own key.
        const cli = await fn(["schedules", "pause", "--app", app], {
          FN_URL: s.url,
          FN_API_KEY: key,
        });
        assert.equal(cli.code, 0, cli.stderr);
        assert.match(cli.stdout, /schedules paused/);
        const other = await s.api(`/apps/${appId("other")}/schedules/pause`, {
          method: "POST",
          key,
        });
        assert.equal(other.status, 403);
        await other.body?.cancel();
        await new Promise((resolve) => setTimeout(resolve, 300)); // a run under way ends
        const frozen = await ticks(s);
        const listing = await json<Listing & { paused: boolean }>(
          await s.api(`/apps/${app}/schedules`),
          200,
        );
        assert.equal(listing.paused, true);
        assert.equal(listing.schedules[0]!.next_run, null);
        await s.close();
        s = await startServer({ env, dataDir });
        await new Promise((resolve) => setTimeout(resolve, 1200));
        assert.equal(await ticks(s), frozen, "a paused job ran");
        const shown = await fn(["schedules", "--app", app], { FN_URL: s.url, FN_API_KEY: API_KEY });
        assert.match(shown.stdout, /paused: no scheduled run starts until resumed/);
        assert.match(shown.stdout, /production {2}api\/tick\.ts {2}\* \* \* \* \* \*/);
        assert.deepEqual(
          await json(await s.api(`/apps/${app}/schedules/resume`, { method: "POST" }), 200),
          { paused: false },
        );
        await waitFor("a tick after resume", async () => await ticks(s) > frozen, 4000);
      } finally {
        await s.close();
      }
    },
  });
}

/** Runs `fn <args>` to completion; answers its exit code and output. */
async function fn(args: string[], env: Record<string, string>) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../cli/main.ts", import.meta.url).pathname, ...args],
    env: { NO_COLOR: "1", FN_CONFIG: "/nonexistent/fn.json", ...env },
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

for (const [backend, test] of backends()) {
  test(`[${backend}] the runs of a job that a deploy removed are dropped with it`, async (s) => {
    const app = appId("cron");
    const job = {
      "api/yearly.ts": `export const schedule = { cron: "0 0 1 1 *" }; export default () => ({});`,
    };
    const history = async () => {
      const { schedules } = await json<{ schedules: Array<{ history: unknown[] }> }>(
        await s.api(`/apps/${app}/schedules`),
        200,
      );
      return schedules[0]?.history.length ?? null;
    };
    await s.deployOk(app, job);
    await json(
      await s.api(`/apps/${app}/schedules/run`, { json: { function: "api/yearly.ts" } }),
      200,
    );
    assert.equal(await history(), 1);
    // Each deploy may name new job files: what a removed one ran is not kept for ever.
    await s.deployOk(app, { "api/other.ts": "export default () => ({});" });
    assert.equal(await history(), null);
    await s.deployOk(app, job);
    assert.equal(await history(), 0);
  });
}

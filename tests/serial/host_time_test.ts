/**
 * The apps' shares of the host's time for KV and fetch calls, from the attacker's side: while
 * another app is being served, a flooding app's calls are bounded per window, it is told, a
 * probed victim keeps answering, and fetches waiting for their share hold their budgets. Serial:
 * the floods fill a core, which would slow the timing-bound checks of other test files.
 */
import assert from "node:assert/strict";
import { CALL_COST_MS } from "../../runtime/kv/turns.ts";
import { FETCH_COST_MS } from "../../runtime/invoke/host_time.ts";
import {
  appId,
  busyNeighbour,
  json,
  probing,
  startServer,
  startUpstream,
  type TestServer,
  victimPath,
} from "../helpers.ts";

const upstream = startUpstream();

/** `n` kv.get calls at a time for `ms`, then how many calls it made. */
const KV_FLOOD = `export default async (ctx) => {
  await ctx.kv.set("k", "v");
  const end = Date.now() + Number(ctx.req.query.ms);
  const n = Number(ctx.req.query.n);
  let calls = 1;
  while (Date.now() < end) {
    await Promise.all(Array.from({ length: n }, () => ctx.kv.get("k")));
    calls += n;
  }
  return { body: { calls } };
};`;

/**
 * Calls the flooding app's `path` while another app is being served throughout and a victim is
 * probed; the flood's answer and how long it took, in ms.
 */
async function floodWhileServed<T>(
  s: TestServer,
  app: string,
  path: string,
): Promise<{ result: T; elapsed: number }> {
  const victim = await victimPath(s);
  const neighbour = await busyNeighbour(s);
  const started = performance.now();
  const { result } = await probing(
    s,
    victim,
    async () => await json<T>(await s.call(app, path), 200),
  );
  const elapsed = performance.now() - started;
  await neighbour.release();
  return { result, elapsed };
}

/** The entries telling the app its calls were slowed. */
async function slowedNotices(s: TestServer, app: string) {
  return (await s.logs(app)).filter((e) => e.message.startsWith("KV and fetch calls slowed"));
}

Deno.test("[embedded] while other apps are served, an app's KV calls take at most its share of the host's time, and it is told", async () => {
  // 1% of a core: 1 ms of the host's time per 100 ms window for the app's KV calls.
  const s = await startServer({ env: { APP_HOST_CALLS_PERCENT: "1" } });
  try {
    const app = appId("kvflood");
    await s.deployOk(app, { "api/flood.ts": KV_FLOOD });
    const { result, elapsed } = await floodWhileServed<{ calls: number }>(
      s,
      app,
      "/flood?ms=2000&n=64",
    );
    // Each call is charged at least CALL_COST_MS and checked against every call before it, even
    // those queued for the app's 16 turns, so a window admits at most 1 / CALL_COST_MS calls and
    // the one that crosses the share. Unbounded, this machine made 50k.
    const windows = Math.ceil(elapsed / 100) + 1;
    const most = windows * (1 / CALL_COST_MS + 1);
    assert.ok(result.calls <= most, `${result.calls} calls in ${windows} windows, over ${most}`);
    const told = await slowedNotices(s, app);
    assert.equal(told.length, 1, "told once (a minute)");
    assert.match(
      told[0]!.message,
      /its KV and fetch calls took \d+ ms of the host's time within 100 ms, its share \(APP_HOST_CALLS_PERCENT\) while other apps are served/,
    );
  } finally {
    await s.close();
  }
});

Deno.test({
  name:
    "while other apps are served, an app's fetches take at most its share of the host's time, and it is told",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // 1% of a core: 1 ms of the host's time per 100 ms window for the app's KV and fetch calls.
    const s = await startServer({
      env: {
        EGRESS_RULES: upstream.egressRules,
        APP_HOST_CALLS_PERCENT: "1",
      },
    });
    try {
      upstream.set(() => new Response("ok"));
      const app = appId("fetchflood");
      await s.deployOk(app, {
        "api/flood.ts": `export default async () => {
        let fetches = 0;
        for (let round = 0; round < 6; round++) {
          await Promise.all(Array.from({ length: 16 }, () =>
            fetch(${JSON.stringify(upstream.origin)}).then((r) => r.text())));
          fetches += 16;
        }
        return { body: { fetches } };
      };`,
      });
      const { result, elapsed } = await floodWhileServed<{ fetches: number }>(s, app, "/flood");
      assert.equal(result.fetches, 96);
      // Each fetch is charged FETCH_COST_MS: a 1 ms window admits at most 1 / FETCH_COST_MS of
      // them and the one that crosses the share, so 96 take at least this long (unbounded, 0.1 s).
      const perWindow = 1 / FETCH_COST_MS + 1;
      const least = ((96 - 16) / perWindow - 1) * 100;
      assert.ok(elapsed >= least, `96 fetches took ${Math.round(elapsed)} ms, under ${least} ms`);
      assert.equal((await slowedNotices(s, app)).length, 1, "told once (a minute)");
    } finally {
      await s.close();
    }
  },
});

Deno.test({
  name:
    "fetches waiting for their app's host time hold their budgets: past them, the rest are refused",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // 512 KB of outbound bodies held per app; 1% of a core of host time, so fetches wait.
    const s = await startServer({
      env: {
        EGRESS_RULES: upstream.egressRules,
        APP_HOST_CALLS_PERCENT: "1",
        REQUEST_BODY_BYTES_PER_APP: String(512 * 1024),
      },
    });
    try {
      upstream.set(async (request) =>
        new Response(String((await request.arrayBuffer()).byteLength))
      );
      const app = appId("parked");
      await s.deployOk(app, {
        "api/post.ts": `export default async () => {
        const body = new Uint8Array(100 * 1024);
        const results = await Promise.allSettled(Array.from({ length: 40 }, () =>
          fetch(${
          JSON.stringify(upstream.origin)
        }, { method: "POST", body }).then((r) => r.text())));
        const refused = results.filter((r) => r.status === "rejected");
        return { body: {
          sent: results.filter((r) => r.status === "fulfilled").length,
          refused: refused.length,
          first: refused[0]?.reason?.message ?? null,
        } };
      };`,
      });
      const neighbour = await busyNeighbour(s);
      const result = await json<{ sent: number; refused: number; first: string | null }>(
        await s.call(app, "/post"),
        200,
      );
      await neighbour.release();
      // Five 100 KB bodies fit the 512 KB budget; the fetches waiting for host time hold theirs,
      // so others are refused at once instead of waiting uncounted (before: none refused, as
      // about four a window went out and gave their bytes back).
      assert.ok(result.refused >= 10, `only ${result.refused} of 40 refused`);
      assert.ok(result.sent >= 1, "the first fetches went out");
      assert.match(
        String(result.first),
        /bytes of outbound request bodies; the budget is 524288 per app/,
      );
    } finally {
      await s.close();
    }
  },
});

Deno.test({
  name: "host time: close the upstream",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => upstream.close(),
});

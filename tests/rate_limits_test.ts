/** Rate limits set through the API: 429 with Retry-After past them, on one instance or many. */
import assert from "node:assert/strict";
import { appId, backends, json, type TestServer, twoInstancesTest } from "./helpers.ts";

const FILES = {
  "api/a.ts": "export default () => ({ body: 'a' })",
  "api/b.ts": "export default () => ({ body: 'b' })",
};

async function statuses(calls: Array<Promise<Response>>): Promise<number[]> {
  return await Promise.all(calls.map(async (call) => {
    const response = await call;
    await response.body?.cancel();
    return response.status;
  }));
}

const count = (list: number[], status: number) => list.filter((s) => s === status).length;

/** Sends `calls` at once; answers their statuses and how long the burst took, in ms. */
async function burst(
  calls: Array<() => Promise<Response>>,
): Promise<{ statuses: number[]; ms: number }> {
  const started = performance.now();
  const list = await statuses(calls.map((call) => call()));
  return { statuses: list, ms: performance.now() - started };
}

/**
 * A 5/s bucket with a burst of 5 lets 5 of a burst through, plus one per 200 ms the burst took
 * (a slow machine refills the bucket while it runs); the rest are refused with 429.
 */
function assertFivePerSecond({ statuses: list, ms }: { statuses: number[]; ms: number }): void {
  const refills = Math.floor((ms * 5) / 1000);
  const passed = count(list, 200);
  assert.ok(passed >= 5 && passed <= 5 + refills, `${passed} passed in ${Math.round(ms)} ms`);
  assert.equal(count(list, 429), list.length - passed);
}

async function limited(s: TestServer, limit: unknown): Promise<string> {
  const app = appId("rl");
  await s.deployOk(app, FILES);
  await json(await s.api(`/apps/${app}/rate-limit`, { method: "PUT", json: limit }), 200);
  return app;
}

for (const [backend, test] of backends()) {
  test(`[${backend}] a limit of 5/s lets 5 requests through and answers 429 to the rest`, async (s) => {
    const app = await limited(s, { rps: 5, burst: 5 });
    const results = await burst(Array.from({ length: 10 }, () => () => s.call(app, "/a")));
    assertFivePerSecond(results);
    // The bucket refills at 5/s while the burst is answered: past what came back meanwhile (on a
    // loaded machine, a token or two), the next calls are refused.
    let refused = await s.call(app, "/a");
    for (let i = 0; i < 5 && refused.status === 200; i++) {
      await refused.body?.cancel();
      refused = await s.call(app, "/a");
    }
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get("retry-after")) >= 1);
    const body = await refused.json();
    assert.match(body.error, /rate limit reached for app ".*": 5 requests per second, bursts of 5/);
    // The limit shows in the app's logs, and removing it lets requests through again.
    const entries = await s.logs(app, "q=rate limit reached");
    assert.ok(entries.length > 0);
    assert.deepEqual(await json(await s.api(`/apps/${app}/rate-limit`), 200), {
      rps: 5,
      burst: 5,
      functions: {},
    });
    assert.equal((await s.api(`/apps/${app}/rate-limit`, { method: "DELETE" })).status, 204);
    assert.deepEqual(await statuses([s.call(app, "/a"), s.call(app, "/a")]), [200, 200]);
  });

  test(`[${backend}] a per-function limit holds one route without slowing the others`, async (s) => {
    const app = await limited(s, {
      rps: 1000,
      burst: 1000,
      functions: { "api/a.ts": { rps: 1, burst: 2 } },
    });
    const a = await statuses([s.call(app, "/a"), s.call(app, "/a"), s.call(app, "/a")]);
    assert.equal(count(a, 429), 1);
    const b = await statuses(Array.from({ length: 5 }, () => s.call(app, "/b")));
    assert.deepEqual(b, [200, 200, 200, 200, 200]);
  });

  test(`[${backend}] a malformed limit is refused naming the field`, async (s) => {
    const app = appId("rl");
    for (
      const [limit, pattern] of [
        [{ rps: 0 }, /body\.rps must be a number of requests per second above 0/],
        [{ rps: 5, burst: 1.5 }, /body\.burst must be a whole number/],
        [{ rps: 5, functions: { "lib/x.ts": { rps: 1 } } }, /"lib\/x\.ts" is not a route file/],
        [{ rps: 5, functions: { "api/x.ts": { rps: -1 } } }, /functions\["api\/x\.ts"\]\.rps/],
        [[1], /must be a JSON object/],
      ] as const
    ) {
      const body = await json(
        await s.api(`/apps/${app}/rate-limit`, { method: "PUT", json: limit }),
        400,
      );
      assert.match(String(body.error), pattern);
    }
    assert.equal((await s.api(`/apps/${app}/rate-limit`)).status, 404);
  });
}

twoInstancesTest("[redis] a rate limit holds across two instances sharing Redis", async (a, b) => {
  const app = await limited(a, { rps: 5, burst: 5 });
  const results = await burst(
    Array.from({ length: 10 }, (_, i) => () => (i % 2 ? a : b).call(app, "/a")),
  );
  assertFivePerSecond(results);
});

/** KV turns and the host-time shares, without a server: who waits, why, and that nothing is lost. */
import assert from "node:assert/strict";
import { CALL_COST_MS, KvTurns } from "../../runtime/kv/turns.ts";
import { HostTime, type HostTimeShares } from "../../runtime/invoke/host_time.ts";

/**
 * The turns' clock: real time plus what `busy` calls took, so a call's cost is exactly what it
 * says however busy the machine is, and windows still pass in real time.
 */
let spent = 0;
const now = () => performance.now() + spent;

/** KV turns (16 per app) over host-time shares kept by `now`. */
function turnsWith(shares: HostTimeShares): KvTurns & { time: HostTime } {
  const time = new HostTime(shares);
  return Object.assign(new KvTurns(16, time), { time });
}

/** A call whose store work takes `ms` of the host's time, as the embedded store's statements do. */
function busy(ms: number): () => Promise<string> {
  return () => {
    spent += ms;
    return Promise.resolve("done");
  };
}

Deno.test("an app past its host-time share waits for the next window, told why; its calls all run", async () => {
  const waits: Array<[string, string]> = [];
  const turns = turnsWith({
    perAppMs: 5,
    totalMs: 1000,
    windowMs: 400,
    othersActive: () => true,
    now,
    onWait: (app, why) => waits.push([app, why]),
  });
  const started = performance.now();
  // 2 ms, then 3.5 ms more: each started under the 5 ms share.
  assert.deepEqual(await Promise.all([turns.run("a", busy(1)), turns.run("a", busy(1))]), [
    "done",
    "done",
  ]);
  assert.equal(await turns.run("a", busy(3.5)), "done");
  assert.equal(waits.length, 0, "under its share, nothing waits");
  assert.equal(await turns.run("a", busy(0.1)), "done");
  assert.ok(performance.now() - started >= 200, "the fourth call ran in the next window");
  assert.equal(waits.length, 1);
  assert.equal(waits[0]![0], "a");
  assert.match(
    waits[0]![1],
    /its KV and fetch calls took \d+ ms of the host's time within 400 ms, its share \(APP_HOST_CALLS_PERCENT\) while other apps are served/,
  );
  assert.equal(await turns.run("b", busy(0.1)), "done", "another app has its own share");
  assert.equal(waits.length, 1);
});

Deno.test("a burst queued for the app's turns passes its share one call at a time, not together", async () => {
  let told = 0;
  const windowMs = 200;
  const turns = turnsWith({
    perAppMs: 1,
    totalMs: 1000,
    windowMs,
    othersActive: () => true,
    now,
    onWait: () => told++,
  });
  // 100 calls at once, 0.05 ms each: a 1 ms share admits about 18 of them per window.
  const started = now();
  const ranAt: number[] = [];
  await Promise.all(Array.from({ length: 100 }, () =>
    turns.run("burst", async () => {
      ranAt.push(now());
      return await busy(0.05)();
    })));
  const perWindow = new Map<number, number>();
  for (const at of ranAt) {
    const window = Math.floor((at - started) / windowMs);
    perWindow.set(window, (perWindow.get(window) ?? 0) + 1);
  }
  // Windows are measured from the turns' own clock, so a window here may see parts of two.
  const most = 2 * (1 / (0.05 + CALL_COST_MS) + 1);
  for (const [window, calls] of perWindow) {
    assert.ok(calls <= most, `${calls} calls ran in window ${window}, over ${most}`);
  }
  assert.equal(ranAt.length, 100, "every call ran");
  assert.ok(told >= 1 && told <= 100, "each waiting call was told once at most");
});

Deno.test("past the total share, heavy apps wait and a light app does not", async () => {
  const waits: Array<[string, string]> = [];
  const turns = turnsWith({
    perAppMs: 50,
    totalMs: 10,
    windowMs: 400,
    othersActive: () => true,
    now,
    onWait: (app, why) => waits.push([app, why]),
  });
  // `heavy` takes the whole total (12 ms of 10), under its own share of 50 ms.
  for (let i = 0; i < 4; i++) await turns.run("heavy", busy(3));
  // `light` has used under a tenth of its share (5 ms): it runs at once, twice.
  await turns.run("light", busy(2));
  await turns.run("light", busy(4));
  assert.equal(waits.length, 0);
  // Now past a tenth of its share, `light` waits for the total's room like `heavy`.
  const started = performance.now();
  await Promise.all([turns.run("light", busy(0.1)), turns.run("heavy", busy(0.1))]);
  assert.ok(performance.now() - started >= 200, "both ran in the next window");
  assert.deepEqual(waits.map(([app]) => app).sort(), ["heavy", "light"]);
  for (const [, why] of waits) assert.match(why, /all apps' KV and fetch calls took \d+ ms/);
});

Deno.test("an app alone on the host is never held back: the shares hold while others are served", async () => {
  let others = false;
  const waits: string[] = [];
  const turns = turnsWith({
    perAppMs: 1,
    totalMs: 1,
    windowMs: 400,
    othersActive: () => others,
    now,
    onWait: (app) => waits.push(app),
  });
  for (let i = 0; i < 5; i++) await turns.run("alone", busy(0.6));
  assert.equal(waits.length, 0, "3 ms used of a 1 ms share, with nobody else served");
  others = true;
  const started = performance.now();
  await turns.run("alone", busy(0.1));
  assert.ok(performance.now() - started >= 200, "once another app is served, it waits");
  assert.deepEqual(waits, ["alone"]);
});

Deno.test("a reply's encoding charged to the app counts against its share", async () => {
  const waits: string[] = [];
  const turns = turnsWith({
    perAppMs: 5,
    totalMs: 1000,
    windowMs: 400,
    othersActive: () => true,
    now,
    onWait: (app) => waits.push(app),
  });
  await turns.run("replies", busy(0.1));
  turns.time.charge("replies", 6);
  const started = performance.now();
  await turns.run("replies", busy(0.1));
  assert.ok(performance.now() - started >= 200);
  assert.deepEqual(waits, ["replies"]);
});

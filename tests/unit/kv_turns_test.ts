/** KV turns and host-time shares, without a server: who waits, why, and that nothing is lost. */
import assert from "node:assert/strict";
import { KvTurns } from "../../runtime/kv/turns.ts";

/** A call whose store work takes `ms` of this thread, as the embedded store's statements do. */
function busy(ms: number): () => Promise<string> {
  return () => {
    const end = performance.now() + ms;
    while (performance.now() < end) { /* the store's statement */ }
    return Promise.resolve("done");
  };
}

Deno.test("an app past its host-time share waits for the next window, told why; its calls all run", async () => {
  const waits: Array<[string, string]> = [];
  const turns = new KvTurns(16, {
    perAppMs: 1,
    totalMs: 1000,
    windowMs: 1000,
    othersActive: () => true,
    onWait: (app, why) => waits.push([app, why]),
  });
  const started = performance.now();
  const first = await Promise.all([turns.run("a", busy(0.6)), turns.run("a", busy(0.6))]);
  assert.deepEqual(first, ["done", "done"]);
  assert.equal(waits.length, 0, "under its share, nothing waits");
  assert.equal(await turns.run("a", busy(0.1)), "done");
  assert.ok(performance.now() - started >= 500, "the third call ran in the next window");
  assert.equal(waits.length, 1);
  assert.equal(waits[0]![0], "a");
  assert.match(
    waits[0]![1],
    /its KV calls took \d+ ms of the host's time within 1000 ms, its share \(APP_KV_HOST_PERCENT\) while other apps are served/,
  );
  assert.equal(await turns.run("b", busy(0.1)), "done", "another app has its own share");
  assert.equal(waits.length, 1);
});

Deno.test("past the total share, heavy apps wait and a light app does not", async () => {
  const waits: Array<[string, string]> = [];
  const turns = new KvTurns(16, {
    perAppMs: 10,
    totalMs: 2,
    windowMs: 1000,
    othersActive: () => true,
    onWait: (app, why) => waits.push([app, why]),
  });
  // `heavy` takes the whole total (2.4 ms of 2), under its own share of 10 ms.
  for (let i = 0; i < 4; i++) await turns.run("heavy", busy(0.6));
  // `light` has used under a tenth of its share (1 ms): it runs at once, twice.
  await turns.run("light", busy(0.6));
  await turns.run("light", busy(0.6));
  assert.equal(waits.length, 0);
  // Now past a tenth of its share, `light` waits for the total's room like `heavy`.
  const started = performance.now();
  await Promise.all([turns.run("light", busy(0.1)), turns.run("heavy", busy(0.1))]);
  assert.ok(performance.now() - started >= 500, "both ran in the next window");
  assert.deepEqual(waits.map(([app]) => app).sort(), ["heavy", "light"]);
  for (const [, why] of waits) assert.match(why, /all apps' KV calls took \d+ ms/);
});

Deno.test("an app alone on the host is never held back: the shares hold while others are served", async () => {
  let others = false;
  const waits: string[] = [];
  const turns = new KvTurns(16, {
    perAppMs: 1,
    totalMs: 1,
    windowMs: 1000,
    othersActive: () => others,
    onWait: (app) => waits.push(app),
  });
  for (let i = 0; i < 5; i++) await turns.run("alone", busy(0.6));
  assert.equal(waits.length, 0, "3 ms used of a 1 ms share, with nobody else served");
  others = true;
  const started = performance.now();
  await turns.run("alone", busy(0.1));
  assert.ok(performance.now() - started >= 500, "once another app is served, it waits");
  assert.deepEqual(waits, ["alone"]);
});

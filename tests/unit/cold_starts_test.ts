/** The cold-start budget (runtime/sandbox/host/cold.ts): its rate, its turns between apps. */
import assert from "node:assert/strict";
import { ColdStarts } from "../../runtime/sandbox/host/cold.ts";
import { BudgetRefusal } from "../../runtime/budget.ts";

Deno.test("apps waiting for a cold start take turns: one app's queue does not hold back another's first start", async () => {
  const starts = new ColdStarts({ perSecond: 1000, burst: 1000, concurrent: 1 });
  const order: string[] = [];
  const deadline = performance.now() + 5000;
  const run = async (appId: string) => {
    const end = await starts.admit(appId, deadline);
    order.push(appId);
    await new Promise((resolve) => setTimeout(resolve, 1));
    end();
  };
  const busy = Array.from({ length: 6 }, () => run("busy"));
  const other = run("other");
  await Promise.all([...busy, other]);
  // The first "busy" start ran at once; "other" came next, before the rest of "busy"'s queue.
  assert.deepEqual(order.slice(0, 3), ["busy", "busy", "other"]);
  starts.close(new Error("closed"));
});

Deno.test("cold starts are admitted at the rate, and one that waits past its deadline is refused naming the budget", async () => {
  const starts = new ColdStarts({ perSecond: 10, burst: 2, concurrent: 4 });
  const deadline = performance.now() + 150;
  const results = await Promise.allSettled(
    Array.from({ length: 6 }, (_, i) => starts.admit(`app${i}`, deadline).then((end) => end())),
  );
  const admitted = results.filter((r) => r.status === "fulfilled").length;
  // The bucket's 2, and one more token in 150 ms at 10 a second (two on a slow timer).
  assert.ok(admitted >= 2 && admitted <= 4, `${admitted} of 6 were admitted`);
  const refused = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
  assert.ok(refused.reason instanceof BudgetRefusal);
  assert.equal(refused.reason.budget, "cold starts");
  assert.match(
    refused.reason.message,
    /at most 10 a second, 4 at a time \(COLD_STARTS_PER_SECOND\)/,
  );
  starts.close(new Error("closed"));
});

/** The embedded log store and the live-tail bound, below the HTTP surface. */
import assert from "node:assert/strict";
import { MAX_TAIL_QUEUE, TailHub, TailOverflowError } from "../runtime/logs/tail.ts";
import type { LogEntry } from "../runtime/logs/types.ts";
import { appId, json, startServer } from "./helpers.ts";

Deno.test("a live-tail subscriber that falls behind is closed instead of queueing without bound", async () => {
  const hub = new TailHub();
  const abort = new AbortController();
  const tail = hub.subscribe("a", abort.signal)[Symbol.asyncIterator]();
  const first = tail.next(); // subscribes, then waits
  const entry = (i: number) => ({ id: `${i}-0`, app_id: "a", message: "" }) as unknown as LogEntry;
  for (let i = 0; i <= MAX_TAIL_QUEUE + 5; i++) hub.publish(entry(i));
  let received = (await first).done ? 0 : 1;
  await assert.rejects(async () => {
    while (!(await tail.next()).done) received++;
  }, TailOverflowError);
  assert.equal(received, MAX_TAIL_QUEUE);
  abort.abort();
});

Deno.test({
  name: "embedded runtime logs survive a restart of the server",
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "fn-logs-" });
    const app = appId("persist");
    const first = await startServer({ dataDir });
    let requestId = "";
    try {
      await first.deployOk(app, {
        "api/hi.ts": "export default () => { console.log('kept across restarts'); return {}; }",
      });
      const response = await first.call(app, "/hi");
      requestId = response.headers.get("x-request-id")!;
      await response.body?.cancel();
      await first.platform.logs.flush();
    } finally {
      await first.close();
    }
    const second = await startServer({ dataDir });
    try {
      const entries = await second.logs(app, `request_id=${requestId}`);
      assert.ok(entries.some((e) => e.message === "kept across restarts"));
      // New entries sort after the old ones.
      const again = await second.call(app, "/hi");
      await again.body?.cancel();
      const page = await json<{ entries: LogEntry[] }>(
        await second.api(`/apps/${app}/logs?limit=1`),
        200,
      );
      assert.equal(page.entries[0]!.request_id, again.headers.get("x-request-id"));
    } finally {
      await second.close();
    }
  },
});

/** The embedded log store and the live-tail bound, below the HTTP surface. */
import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { SqliteLogStore } from "../runtime/logs/sqlite.ts";
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

Deno.test({
  name: "embedded logs: many batches keep exactly the retention, and paging walks each entry once",
  async fn() {
    const s = await startServer({ env: { LOG_RETENTION_ENTRIES: "300" } });
    try {
      const app = appId("batches");
      await s.deployOk(app, {
        "api/count.ts": `export default (ctx) => {
          for (let i = 0; i < 200; i++) console.log(ctx.req.query.r + "-" + i);
          return {};
        };`,
      });
      // 5 requests of 201 entries, each flushed on its own: several batch rows, most trimmed.
      for (let r = 0; r < 5; r++) {
        await (await s.call(app, `/count?r=${r}`)).body?.cancel();
        await s.platform.logs.flush();
      }
      const seen: LogEntry[] = [];
      let cursor: string | null = "";
      while (cursor !== null) {
        const page: { entries: LogEntry[]; next_cursor: string | null } = await json(
          await s.api(`/apps/${app}/logs?limit=128${cursor ? `&cursor=${cursor}` : ""}`),
          200,
        );
        seen.push(...page.entries);
        cursor = page.next_cursor;
      }
      assert.equal(seen.length, 300);
      assert.equal(new Set(seen.map((e) => e.id)).size, 300);
      // Newest first: request 4's entry, its 200 lines, then request 3's entry and its last 98.
      assert.equal(seen[0]!.type, "request");
      assert.equal(seen[1]!.message, "4-199");
      assert.equal(seen[201]!.type, "request");
      assert.equal(seen[202]!.message, "3-199");
      assert.equal(seen[299]!.message, "3-102");
      const ids = seen.map((e) => e.id.split("-").map(Number) as [number, number]);
      for (let i = 1; i < ids.length; i++) {
        const [[ms, seq], [prevMs, prevSeq]] = [ids[i]!, ids[i - 1]!];
        assert.ok(ms < prevMs || (ms === prevMs && seq < prevSeq), "ids decrease");
      }
      // A filter reaches across batch rows too.
      const filtered = await s.logPage(app, "q=3-15&limit=100");
      assert.deepEqual(
        filtered.entries.map((e) => e.message),
        ["3-159", "3-158", "3-157", "3-156", "3-155", "3-154", "3-153", "3-152", "3-151", "3-150"],
      );
    } finally {
      await s.close();
    }
  },
});

Deno.test({
  name: "embedded logs written by an earlier version (a row per entry) are read after an upgrade",
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "fn-logs-" });
    const { DatabaseSync } = await import("node:sqlite");
    const old = new DatabaseSync(`${dataDir}/logs.sqlite`);
    old.exec(`CREATE TABLE logs (
      app TEXT NOT NULL, ms INTEGER NOT NULL, seq INTEGER NOT NULL, entry TEXT NOT NULL,
      PRIMARY KEY (app, ms, seq)) WITHOUT ROWID`);
    const app = appId("upgraded");
    const insert = old.prepare("INSERT INTO logs VALUES (?, ?, ?, ?)");
    for (let i = 0; i < 5; i++) {
      const id = `1700000000000-${i}`;
      insert.run(
        app,
        1700000000000,
        i,
        JSON.stringify({
          id,
          time: new Date(1700000000000).toISOString(),
          level: "info",
          type: "console",
          app_id: app,
          environment: "production",
          deployment_id: null,
          function: null,
          request_id: null,
          message: `old ${i}`,
        }),
      );
    }
    old.close();
    const s = await startServer({ dataDir });
    try {
      const first = await s.logPage(app, "limit=2");
      assert.deepEqual(first.entries.map((e) => e.message), ["old 4", "old 3"]);
      const rest = await s.logPage(app, `limit=10&cursor=${first.next_cursor}`);
      assert.deepEqual(rest.entries.map((e) => e.message), ["old 2", "old 1", "old 0"]);
      await s.deployOk(app, {
        "api/hi.ts": "export default () => { console.log('new'); return {}; }",
      });
      await (await s.call(app, "/hi")).body?.cancel();
      const page = await s.logPage(app, "limit=3");
      assert.deepEqual(page.entries.map((e) => e.message).slice(1), ["new", "old 4"]);
    } finally {
      await s.close();
    }
  },
});

Deno.test("embedded log ids go on increasing after a restart, even when an append ran past a millisecond", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fn-logs-" });
  const realNow = Date.now;
  let now = 1_800_000_000_000;
  // Each entry of the first append takes the next millisecond.
  Date.now = () => now++;
  try {
    const entry = (message: string) => ({
      time: new Date(0).toISOString(),
      level: "info" as const,
      type: "console" as const,
      app_id: "ids",
      environment: null,
      deployment_id: null,
      function: null,
      request_id: null,
      message,
    });
    const first = new SqliteLogStore(`${dir}/logs.sqlite`, 100);
    await first.append(["a", "b", "c", "d"].map(entry));
    await first.close();
    // The clock of the restart is inside the first append's milliseconds.
    now = 1_800_000_000_001;
    const second = new SqliteLogStore(`${dir}/logs.sqlite`, 100);
    await second.append([entry("e")]);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await second.query("ids", { limit: 1, ...(cursor ? { cursor } : {}) });
      seen.push(...page.entries.map((e) => e.message));
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    assert.deepEqual(seen, ["e", "d", "c", "b", "a"]);
    await second.close();
  } finally {
    Date.now = realNow;
  }
});

Deno.test("embedded logs keep every field of each entry kind as written, on the writer thread and inline", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fn-logs-" });
  const request = {
    time: "2026-12-01T18:00:00.000Z",
    level: "warn" as const,
    type: "request" as const,
    app_id: "fields",
    environment: "preview",
    deployment_id: "dep_1",
    function: "api/[id].ts",
    request_id: "req_1",
    message: 'GET /functions/a%22b 404 1.25ms "quoted"\n\u2028 ✓',
    method: "GET",
    path: "/functions/a%22b",
    status: 404,
    duration_ms: 1.25,
  };
  const event = {
    time: "2026-12-01T18:00:00.001Z",
    level: "error" as const,
    type: "event" as const,
    app_id: "fields",
    environment: null,
    deployment_id: null,
    function: null,
    request_id: null,
    message: "\u0000 a platform event",
  };
  for (const path of [`${dir}/logs.sqlite`, ":memory:"]) {
    const store = new SqliteLogStore(path, 100);
    try {
      await store.append([request, event]);
      const { entries } = await store.query("fields", { limit: 10 });
      assert.deepEqual(entries.map(({ id: _, ...fields }) => fields), [event, request], path);
      assert.deepEqual(Object.keys(entries[1]!), ["id", ...Object.keys(request)], "key order");
    } finally {
      await store.close();
    }
  }
});

Deno.test("an embedded log query that matches nothing scans in steps, and other work runs between them", async () => {
  const store = new SqliteLogStore(":memory:", 1000);
  try {
    // 40 entries of 200 KB, appended as 40 batch rows: 8 MB to scan, about 8 steps of 1 MB.
    for (let i = 0; i < 40; i++) {
      await store.append([{
        time: new Date().toISOString(),
        level: "info",
        type: "console",
        app_id: "big",
        environment: "production",
        deployment_id: "dep_1",
        function: "api/x.ts",
        request_id: `req_${i}`,
        message: "m".repeat(200 * 1024),
      }]);
    }
    let turns = 0;
    let counting = true;
    const count = () => {
      if (!counting) return;
      turns++;
      setImmediate(count);
    };
    setImmediate(count);
    const page = await store.query("big", { limit: 10, q: "no such text" });
    counting = false;
    assert.deepEqual(page, { entries: [], next_cursor: null });
    // Each step is a task of its own: the event loop goes round between steps (a scan in one
    // piece gives it no turn, however long it takes).
    assert.ok(turns >= 4, `the event loop went round ${turns} times during the scan`);
  } finally {
    await store.close();
  }
});

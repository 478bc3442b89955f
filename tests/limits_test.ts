import assert from "node:assert/strict";
import { appId, json, processRunning, rawHttp, startServer, suite, waitFor } from "./helpers.ts";

/** A server with a 1 s time limit and a 64 MB heap per sandbox, so the limits are quick to reach. */
const test = suite(() =>
  startServer({ env: { FUNCTION_TIMEOUT_MS: "1000", FUNCTION_MEMORY_MB: "64" } })
);
/**
 * A 64 MB heap with the default 30 s time limit, for the heap bomb: filling 64 MB must win its
 * race against the clock even on a loaded machine (with 1 s it once answered 504).
 */
const memoryTest = suite(() => startServer({ env: { FUNCTION_MEMORY_MB: "64" } }));

const STUCK_APP = {
  "api/spin.ts": "export default () => { while (true) {} };",
  "api/wait.ts":
    "export default async (ctx) => { await new Promise((r) => setTimeout(r, Number(ctx.req.query.ms))); return { body: 'waited' }; };",
  "api/ok.ts": "export default () => ({ body: 'ok' });",
};

/** Answers the length of the body it received. */
const LENGTH_ECHO = {
  "api/echo.ts": "export default (ctx) => ({ body: { n: ctx.req.body.length } })",
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test(
  "a handler stuck in while(true) answers 504, its sandbox is replaced and co-located requests get 503",
  async (s) => {
    const app = appId("stuck");
    const other = appId("other");
    await s.deployOk(app, STUCK_APP);
    await s.deployOk(other, { "api/ok.ts": "export default () => ({ body: 'still here' });" });

    const started = performance.now();
    const spin = s.call(app, "/spin");
    await sleep(200);
    const sharing = s.call(app, "/wait?ms=5000");
    // Other apps keep being answered while the sandbox spins.
    for (let i = 0; i < 5; i++) {
      const response = await s.call(other, "/ok");
      assert.equal(await response.text(), "still here");
      await sleep(100);
    }
    const stuck = await json(await spin, 504);
    const stoppedAfter = performance.now() - started;
    assert.match(String(stuck.error), /ran past its time limit of 1000 ms/);
    assert.ok(stoppedAfter < 3000, `the 504 came after ${stoppedAfter} ms`);
    const shared = await json(await sharing, 503);
    assert.match(
      String(shared.error),
      /stopped with its sandbox: another request to the same deployment ran past its time limit/,
    );

    // The replacement sandbox serves the app again, and other apps were never affected.
    assert.equal(await (await s.call(app, "/ok")).text(), "ok");
    assert.equal(await (await s.call(other, "/ok")).text(), "still here");
  },
);

test("a timed-out request is logged at error with the time limit", async (s) => {
  const app = appId("stuck");
  await s.deployOk(app, STUCK_APP);
  const response = await s.call(app, "/wait?ms=3000");
  const requestId = response.headers.get("x-request-id")!;
  await json(response, 504);
  await waitFor("the timeout's log entries", async () => {
    const entries = await s.logs(app, `request_id=${requestId}`);
    const failure = entries.find((e) => e.type !== "request" && e.level === "error");
    const request = entries.find((e) => e.type === "request");
    return /time limit of 1000 ms/.test(failure?.message ?? "") && request?.status === 504;
  }, 3000);
});

test("a timed-out handler's pending work is abandoned: its later KV write never lands", async (s) => {
  const app = appId("late");
  await s.deployOk(app, {
    "api/late.ts": `export default async (ctx) => {
      await new Promise((r) => setTimeout(r, 1300));
      await ctx.kv.set("late", "written");
      return { body: "done" };
    };`,
    "api/read.ts": "export default async (ctx) => ({ body: { late: await ctx.kv.get('late') } })",
  });
  await json(await s.call(app, "/late"), 504);
  await sleep(800);
  assert.deepEqual(await json(await s.call(app, "/read"), 200), { late: null });
});

memoryTest(
  "a handler allocating without bound answers 502, is logged, and its app recovers",
  async (s) => {
    const app = appId("hog");
    const other = appId("calm");
    await s.deployOk(app, {
      "api/hog.ts":
        "export default () => { const a = []; while (true) a.push(new Array(1e5).fill(a.length)); };",
      "api/ok.ts": "export default () => ({ body: 'ok' });",
    });
    await s.deployOk(other, { "api/ok.ts": "export default () => ({ body: 'calm' });" });
    const hog = s.call(app, "/hog");
    const during = await s.call(other, "/ok");
    assert.equal(await during.text(), "calm");
    const response = await hog;
    const requestId = response.headers.get("x-request-id")!;
    const body = await json(response, 502);
    assert.match(String(body.error), /ran out of memory \(heap limit 64 MB per sandbox\)/);
    await waitFor("the out-of-memory log entry", async () => {
      const entries = await s.logs(app, `request_id=${requestId}&level=error`);
      return entries.some((e) => /ran out of memory/.test(e.message));
    }, 3000);
    assert.equal(await (await s.call(app, "/ok")).text(), "ok");
    assert.equal(await (await s.call(other, "/ok")).text(), "calm");
  },
);

test("a request body over 1 MB declared by Content-Length is refused with 413 unread", async (s) => {
  const app = appId("body");
  await s.deployOk(app, LENGTH_ECHO);
  // Only the headers are sent: the server must answer without waiting for the body.
  const response = await rawHttp(
    s.url,
    `POST /apps/${app}/functions/echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${1024 * 1024 + 1}\r\nConnection: close\r\n\r\n`,
  );
  assert.equal(response.status, 413);
  assert.match(JSON.parse(response.body).error, /over the limit of 1048576 bytes/);
});

test("a chunked request body over 1 MB is refused with 413 by counting", async (s) => {
  const app = appId("body");
  await s.deployOk(app, LENGTH_ECHO);
  const chunk = "x".repeat(64 * 1024);
  let request = `POST /apps/${app}/functions/echo HTTP/1.1\r\nHost: x\r\n` +
    "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
  for (let i = 0; i < 17; i++) request += `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
  request += "0\r\n\r\n";
  const response = await rawHttp(s.url, request);
  assert.equal(response.status, 413);
  assert.match(JSON.parse(response.body).error, /over the limit of 1048576 bytes/);
});

test("a request body of exactly 1 MB is accepted, chunked or not", async (s) => {
  const app = appId("body");
  await s.deployOk(app, LENGTH_ECHO);
  const text = "y".repeat(1024 * 1024);
  const plain = await s.call(app, "/echo", {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: text,
  });
  assert.deepEqual(await json(plain, 200), { n: 1024 * 1024 });
  const stream = ReadableStream.from([new TextEncoder().encode(text)]);
  const chunked = await s.call(app, "/echo", {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: stream,
  });
  assert.deepEqual(await json(chunked, 200), { n: 1024 * 1024 });
});

test("a response body over 6 MB answers 500 with a clear error, also in the logs", async (s) => {
  const app = appId("big");
  await s.deployOk(app, {
    "api/big.ts": "export default () => ({ body: 'z'.repeat(6 * 1024 * 1024 + 1) });",
  });
  const response = await s.call(app, "/big");
  const requestId = response.headers.get("x-request-id")!;
  const body = await json(response, 500);
  assert.match(String(body.error), /api\/big\.ts returned a value that cannot be sent/);
  assert.match(String(body.error), /over the limit of 6291456 bytes \(6 MB\)/);
  await waitFor("the bad result's log entry", async () => {
    const entries = await s.logs(app, `request_id=${requestId}&level=error`);
    return entries.some((e) => /over the limit of 6291456 bytes/.test(e.message));
  }, 3000);
});

test(
  "an unhandled rejection and an error thrown in a timer are logged and harm no other request",
  async (s) => {
    const app = appId("stray");
    await s.deployOk(app, {
      "api/stray.ts": `export default () => {
        Promise.reject(new Error("nobody caught me"));
        setTimeout(() => { throw new Error("thrown in a timer"); }, 10);
        return { body: "fine" };
      };`,
      "api/wait.ts":
        "export default async () => { await new Promise((r) => setTimeout(r, 300)); return { body: 'waited' }; };",
    });
    const waiting = s.call(app, "/wait");
    assert.equal(await (await s.call(app, "/stray")).text(), "fine");
    assert.equal(await (await waiting).text(), "waited");
    await waitFor("the stray errors' log entries", async () => {
      const messages = (await s.logs(app, "level=error")).map((e) => e.message);
      return messages.some((m) => /unhandled promise rejection: Error: nobody caught me/.test(m)) &&
        messages.some((m) => /thrown in a timer/.test(m));
    }, 3000);
    assert.equal(await (await s.call(app, "/wait")).text(), "waited");
  },
);

test("a request past its time limit gets its 504 even when the oldest request of its sandbox finished first", async (s) => {
  const app = appId("deadlines");
  const { id } = await s.deployOk(app, STUCK_APP);
  const pid = s.platform.sandboxes.pidOf(id);
  assert.ok(pid !== null);
  const started = performance.now();
  const [fast, slow] = await Promise.all([
    s.call(app, "/wait?ms=10"),
    new Promise<Response>((resolve) => setTimeout(() => resolve(s.call(app, "/wait?ms=8000")), 50)),
  ]);
  assert.equal(await fast.text(), "waited");
  const body = await json(slow, 504);
  assert.match(String(body.error), /ran past its time limit of 1000 ms/);
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 6000, `the 504 came after ${Math.round(elapsed)} ms, not near the 1 s limit`);
  assert.equal(await processRunning(pid), false, "the sandbox process has exited by the 504");
});

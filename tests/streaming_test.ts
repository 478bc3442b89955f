/** Streamed response bodies: sent as produced, bounded by the size and time limits; SSE. */
import assert from "node:assert/strict";
import { appId, startServer, suite, waitFor } from "./helpers.ts";

const test = suite(() => startServer({ env: { FUNCTION_TIMEOUT_MS: "4000" } }));

test("a streamed response's first chunk arrives before the handler ends", async (s) => {
  const app = appId("stream");
  await s.deployOk(app, {
    "api/slow.ts": `export default () => ({
      headers: { "content-type": "text/plain" },
      body: (async function* () {
        yield "first;";
        await new Promise((r) => setTimeout(r, 1500));
        yield new TextEncoder().encode("second");
      })(),
    });`,
  });
  const started = performance.now();
  const response = await s.call(app, "/slow");
  assert.equal(response.status, 200);
  const reader = response.body!.getReader();
  const first = await reader.read();
  const firstAt = performance.now() - started;
  assert.equal(new TextDecoder().decode(first.value), "first;");
  assert.ok(firstAt < 1200, `the first chunk came after ${Math.round(firstAt)} ms`);
  let rest = "";
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    rest += new TextDecoder().decode(value);
  }
  assert.equal(rest, "second");
  assert.ok(performance.now() - started >= 1450);
});

test("a ReadableStream body is streamed too", async (s) => {
  const app = appId("stream");
  await s.deployOk(app, {
    "api/rs.ts": `export default () => ({
      body: new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode("a")); c.enqueue(new TextEncoder().encode("b")); c.close(); } }),
    });`,
  });
  const response = await s.call(app, "/rs");
  assert.equal(response.headers.get("content-type"), "application/octet-stream");
  assert.equal(await response.text(), "ab");
});

test("ctx.sse streams server-sent events", async (s) => {
  const app = appId("stream");
  await s.deployOk(app, {
    "api/events.ts": `export default (ctx) => ctx.sse((async function* () {
      yield "hello";
      yield { event: "tick", id: "2", data: { n: 2 } };
      yield "two\\nlines";
    })());`,
  });
  const response = await s.call(app, "/events");
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  assert.equal(
    await response.text(),
    'data: hello\n\nevent: tick\nid: 2\ndata: {"n":2}\n\ndata: two\ndata: lines\n\n',
  );
});

test("a stream past 6 MB is cut off and logged", async (s) => {
  const app = appId("stream");
  await s.deployOk(app, {
    "api/big.ts": `export default () => ({ body: (async function* () {
      const chunk = "x".repeat(1024 * 1024);
      for (let i = 0; i < 10; i++) yield chunk;
    })() });`,
  });
  const response = await s.call(app, "/big");
  const requestId = response.headers.get("x-request-id")!;
  let received = 0;
  await assert.rejects(async () => {
    for await (const chunk of response.body!) received += chunk.length;
  });
  assert.ok(received <= 6 * 1024 * 1024, `${received} bytes were sent`);
  await waitFor("the cut to be logged", async () => {
    const entries = await s.logs(app, `request_id=${requestId}&level=error`);
    return entries.some((e) => /streamed response passed 6291456 bytes/.test(e.message));
  }, 5000);
});

test("a stream that outlives the time limit is stopped", async (s) => {
  const app = appId("stream");
  await s.deployOk(app, {
    "api/endless.ts": `export default () => ({ body: (async function* () {
      while (true) { yield "tick "; await new Promise((r) => setTimeout(r, 100)); }
    })() });`,
  });
  const started = performance.now();
  const response = await s.call(app, "/endless");
  await assert.rejects(async () => {
    for await (const _ of response.body!) { /* read until it is cut */ }
  });
  const took = performance.now() - started;
  assert.ok(took >= 3900 && took < 9000, `the stream ended after ${Math.round(took)} ms`);
});

/** Credit-based flow control (runtime/sandbox/streams.ts): what each side may hold. */
import assert from "node:assert/strict";
import {
  CreditedStream,
  CreditWindow,
  STREAM_WINDOW_BYTES,
  windowed,
} from "../../runtime/sandbox/streams.ts";

Deno.test("a sender waits once a window is outstanding, and goes on as the reader grants", async () => {
  const window = new CreditWindow();
  assert.equal(await window.take(STREAM_WINDOW_BYTES), true);
  let sent = false;
  const next = window.take(1).then((ok) => (sent = ok));
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(sent, false, "a byte past the window went out before any credit");
  window.grant(1);
  await next;
  assert.equal(sent, true);
});

Deno.test("a cancelled receiver ends the sender's wait with false", async () => {
  const window = new CreditWindow();
  await window.take(STREAM_WINDOW_BYTES);
  const next = window.take(1);
  window.close();
  assert.equal(await next, false);
  assert.equal(await window.take(1), false);
});

Deno.test("a receiver grants what its reader takes, and refuses what passes the window", async () => {
  const granted: number[] = [];
  let cancelled = false;
  const stream = new CreditedStream((bytes) => granted.push(bytes), () => (cancelled = true));
  assert.equal(stream.push(new Uint8Array(STREAM_WINDOW_BYTES - 10)), true);
  assert.equal(stream.push(new Uint8Array(11)), false, "the window was passed");
  assert.equal(stream.push(new Uint8Array(10)), true);
  stream.end();
  const reader = stream.readable.getReader();
  let total = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
  }
  assert.equal(total, STREAM_WINDOW_BYTES);
  assert.deepEqual(granted, [STREAM_WINDOW_BYTES - 10, 10]);
  assert.equal(cancelled, false);
});

Deno.test("a receiver ended with an error delivers what it holds, then the error", async () => {
  const stream = new CreditedStream(() => {}, () => {});
  stream.push(new Uint8Array([1, 2]));
  stream.end(new Error("upstream broke"));
  const reader = stream.readable.getReader();
  assert.deepEqual((await reader.read()).value, new Uint8Array([1, 2]));
  await assert.rejects(reader.read(), /upstream broke/);
});

Deno.test("large chunks are split into window-sized views", () => {
  const pieces = [...windowed(new Uint8Array(STREAM_WINDOW_BYTES * 2 + 5))];
  assert.deepEqual(pieces.map((p) => p.length), [STREAM_WINDOW_BYTES, STREAM_WINDOW_BYTES, 5]);
});

/** The sandbox wire's binary frames: exact round trips however the bytes are cut, and limits. */
import assert from "node:assert/strict";
import { encodeFrame, FrameError, FrameReader } from "../runtime/sandbox/frames.ts";
import { MAX_FRAME_BYTES, MAX_RESPONSE_BYTES } from "../runtime/sandbox/protocol.ts";

const body = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);

Deno.test("frames round-trip header and body bytes whatever the chunk boundaries", () => {
  const frames = [
    encodeFrame({ t: "a", text: "héllo ✓" }),
    encodeFrame({ t: "b" }, body(1000)),
    encodeFrame({ t: "c", n: 3 }, new Uint8Array(0)),
  ];
  const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let offset = 0;
  for (const frame of frames) {
    all.set(frame, offset);
    offset += frame.length;
  }
  for (const size of [1, 3, 7, 64, 1021, all.length]) {
    const reader = new FrameReader();
    const out = [];
    for (let i = 0; i < all.length; i += size) out.push(...reader.push(all.slice(i, i + size)));
    assert.equal(out.length, 3, `chunks of ${size}`);
    assert.deepEqual(out[0]!.header, { t: "a", text: "héllo ✓" });
    assert.equal(out[0]!.body, undefined);
    assert.deepEqual(out[1]!.body, body(1000));
    assert.deepEqual(out[2]!.header, { t: "c", n: 3 });
  }
});

Deno.test("the largest response fits a frame, reassembled from 64 KB chunks", () => {
  const big = body(MAX_RESPONSE_BYTES);
  const frame = encodeFrame({ t: "result", id: "x" }, big);
  const reader = new FrameReader();
  const out = [];
  for (let i = 0; i < frame.length; i += 65536) {
    out.push(...reader.push(frame.subarray(i, i + 65536)));
  }
  assert.equal(out.length, 1);
  assert.equal(out[0]!.body!.length, MAX_RESPONSE_BYTES);
  assert.deepEqual(out[0]!.body, big);
});

Deno.test("a frame over the limit is refused when written and when read", () => {
  assert.throws(() => encodeFrame({ t: "x" }, new Uint8Array(MAX_FRAME_BYTES)), FrameError);
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, MAX_FRAME_BYTES + 1);
  assert.throws(() => new FrameReader().push(header), FrameError);
});

Deno.test("a frame whose header is not JSON is refused", () => {
  const frame = new Uint8Array(12);
  const view = new DataView(frame.buffer);
  view.setUint32(0, 8);
  view.setUint32(4, 4);
  frame.set(new TextEncoder().encode("{no}"), 8);
  assert.throws(() => new FrameReader().push(frame), FrameError);
});

/**
 * Length-prefixed JSON frames over a byte stream: the wire format between the host and a
 * sandbox process. A frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Largest frame accepted, in bytes: above the 6 MB response and 1 MB request limits with JSON overhead. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** Encodes one message as a frame. */
export function encodeFrame(message: unknown): Uint8Array {
  const json = encoder.encode(JSON.stringify(message));
  const frame = new Uint8Array(4 + json.length);
  new DataView(frame.buffer).setUint32(0, json.length);
  frame.set(json, 4);
  return frame;
}

/** Yields the messages of a stream of frames; throws on a frame over MAX_FRAME_BYTES. */
export async function* readFrames(stream: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  let buffer: Uint8Array = new Uint8Array(0);
  for await (const chunk of stream) {
    buffer = buffer.length === 0 ? chunk : concat(buffer, chunk);
    let offset = 0;
    while (buffer.length - offset >= 4) {
      const length = new DataView(buffer.buffer, buffer.byteOffset + offset).getUint32(0);
      if (length > MAX_FRAME_BYTES) throw new Error(`frame of ${length} bytes is over the limit`);
      if (buffer.length - offset - 4 < length) break;
      yield JSON.parse(decoder.decode(buffer.subarray(offset + 4, offset + 4 + length)));
      offset += 4 + length;
    }
    buffer = buffer.subarray(offset);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Binary frames over a byte stream, the wire between the host and a sandbox process:
 * `u32 rest length | u32 header length | header (UTF-8 JSON) | body bytes`, big-endian.
 * Reassembly copies each byte once (linear in the frame size), and a body is never decoded.
 */
import { type Envelope, MAX_FRAME_BYTES, MAX_HEADER_BYTES } from "./protocol.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A frame that breaks the format or the size limits; the connection cannot go on. */
export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FrameError";
  }
}

/** Encodes a header and optional body as one frame; throws FrameError past MAX_FRAME_BYTES. */
export function encodeFrame(header: unknown, body?: Uint8Array): Uint8Array<ArrayBuffer> {
  const json = encoder.encode(JSON.stringify(header));
  const bodyLength = body?.length ?? 0;
  const rest = 4 + json.length + bodyLength;
  if (json.length > MAX_HEADER_BYTES || rest > MAX_FRAME_BYTES) {
    throw new FrameError(`a frame of ${rest} bytes is over the limit of ${MAX_FRAME_BYTES}`);
  }
  const frame = new Uint8Array(4 + rest);
  const view = new DataView(frame.buffer);
  view.setUint32(0, rest);
  view.setUint32(4, json.length);
  frame.set(json, 8);
  if (body) frame.set(body, 8 + json.length);
  return frame;
}

/** Splits a byte stream into frames; feed it chunks, take the frames that completed. */
export class FrameReader {
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  /** Bytes still needed for the frame being read, or -1 while its length is unknown. */
  #need = -1;

  /** Adds a chunk and returns every frame it completed; throws FrameError on a bad frame. */
  push(chunk: Uint8Array): Array<Envelope<unknown>> {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const out: Array<Envelope<unknown>> = [];
    while (true) {
      if (this.#need < 0) {
        if (this.#buffered < 4) break;
        const head = this.#take(4);
        const rest = new DataView(head.buffer, head.byteOffset, 4).getUint32(0);
        if (rest < 4 || rest > MAX_FRAME_BYTES) {
          throw new FrameError(`a frame of ${rest} bytes is outside the limits`);
        }
        this.#need = rest;
      }
      if (this.#buffered < this.#need) break;
      const frame = this.#take(this.#need);
      this.#need = -1;
      out.push(decodeRest(frame));
    }
    return out;
  }

  /** Removes the first `n` buffered bytes; copies only when they span chunks. */
  #take(n: number): Uint8Array {
    this.#buffered -= n;
    // Callers take at most what is buffered, so a chunk is always there.
    const first = this.#chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let offset = 0;
    while (offset < n) {
      const chunk = this.#chunks[0]!;
      const part = Math.min(chunk.length, n - offset);
      out.set(chunk.subarray(0, part), offset);
      offset += part;
      if (part === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(part);
    }
    return out;
  }
}

function decodeRest(frame: Uint8Array): Envelope<unknown> {
  const headerLength = new DataView(frame.buffer, frame.byteOffset, 4).getUint32(0);
  if (headerLength > frame.length - 4 || headerLength > MAX_HEADER_BYTES) {
    throw new FrameError(`a frame header of ${headerLength} bytes is outside the frame`);
  }
  let header: unknown;
  try {
    header = JSON.parse(decoder.decode(frame.subarray(4, 4 + headerLength)));
  } catch {
    throw new FrameError("a frame header is not valid JSON");
  }
  const body = frame.length > 4 + headerLength ? frame.subarray(4 + headerLength) : undefined;
  return { header, body };
}

/**
 * Queues frames for a sink (a socket), and hands it everything queued until `defer` calls back,
 * or while its previous write was under way, as one buffer: a burst of messages costs one write
 * rather than one each.
 */
export class FrameWriter {
  readonly #sink: (bytes: Uint8Array<ArrayBuffer>) => Promise<void> | void;
  readonly #defer: (drain: () => void) => void;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #scheduled = false;
  #failed = false;

  /**
   * `defer` decides how long frames gather before a write: by default until the end of the
   * current turn (a microtask).
   */
  constructor(
    sink: (bytes: Uint8Array<ArrayBuffer>) => Promise<void> | void,
    defer: (drain: () => void) => void = queueMicrotask,
  ) {
    this.#sink = sink;
    this.#defer = defer;
  }

  /** Encodes and queues a message; after a failed write, messages are dropped. */
  send(header: unknown, body?: Uint8Array): void {
    this.sendEncoded(encodeFrame(header, body));
  }

  /** Queues bytes that are already frames. */
  sendEncoded(bytes: Uint8Array): void {
    if (this.#failed) return;
    this.#queue.push(bytes);
    this.#queued += bytes.length;
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#defer(() => void this.#drain());
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = concat(this.#queue, this.#queued);
        this.#queue = [];
        this.#queued = 0;
        await this.#sink(batch);
      }
    } catch {
      this.#failed = true;
      this.#queue = [];
    } finally {
      this.#scheduled = false;
    }
  }
}

/**
 * A FrameWriter sink that writes straight to a socket (no stream machinery on the hot path),
 * looping because one write may take only part of the bytes.
 */
export function socketSink(conn: Deno.Conn): (bytes: Uint8Array) => Promise<void> {
  return async (bytes) => {
    for (let done = 0; done < bytes.length;) done += await conn.write(bytes.subarray(done));
  };
}

function concat(parts: Uint8Array[], total: number): Uint8Array<ArrayBuffer> {
  if (parts.length === 1 && parts[0]!.byteOffset === 0 && parts[0]!.buffer.byteLength === total) {
    return parts[0] as Uint8Array<ArrayBuffer>;
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

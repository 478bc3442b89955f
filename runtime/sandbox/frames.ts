/**
 * Binary frames over a byte stream, the wire between the host and a sandbox process:
 * `u32 rest length | u32 header length | header (UTF-8 JSON) | body bytes`, big-endian.
 * Reassembly copies each byte once (linear in the frame size), and a body is never decoded.
 */
import { type JsonShapeLimits, jsonShapeProblem } from "./json_shape.ts";
import { type Envelope, HEADER_SHAPE, MAX_FRAME_BYTES, MAX_HEADER_BYTES } from "./protocol.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A frame that breaks the format or the size limits; the connection cannot go on. */
export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FrameError";
  }
}

/** How large a frame and its JSON header may be, in bytes, and how deeply the header may nest. */
export interface FrameLimits {
  maxFrameBytes: number;
  maxHeaderBytes: number;
  /** What the header may hold, checked before it is parsed (json_shape.ts); none when absent. */
  headerShape?: JsonShapeLimits;
}

/** The limits of the host↔sandbox wire (protocol.ts). */
const SANDBOX_LIMITS: FrameLimits = {
  maxFrameBytes: MAX_FRAME_BYTES,
  maxHeaderBytes: MAX_HEADER_BYTES,
  headerShape: HEADER_SHAPE,
};

/** The most bytes a frame of `json` (a JSON text) and `body` can take once encoded. */
function frameBound(json: string, body: Uint8Array | undefined): number {
  // UTF-8 takes at most 3 bytes per UTF-16 unit.
  return 8 + json.length * 3 + (body?.length ?? 0);
}

/**
 * Writes the frame of `json` and `body` into `target` at `at` (room for `frameBound` bytes);
 * answers where it ends. Throws FrameError past the limits, having written nothing that counts.
 */
function writeFrame(
  target: Uint8Array<ArrayBuffer>,
  at: number,
  json: string,
  body: Uint8Array | undefined,
  limits: FrameLimits = SANDBOX_LIMITS,
): number {
  const { written } = encoder.encodeInto(json, target.subarray(at + 8));
  const bodyLength = body?.length ?? 0;
  const rest = 4 + written + bodyLength;
  if (written > limits.maxHeaderBytes) {
    throw new FrameError(
      `a frame header of ${written} bytes is over the limit of ${limits.maxHeaderBytes}`,
    );
  }
  if (rest > limits.maxFrameBytes) {
    throw new FrameError(`a frame of ${rest} bytes is over the limit of ${limits.maxFrameBytes}`);
  }
  const view = new DataView(target.buffer, target.byteOffset + at, 8);
  view.setUint32(0, rest);
  view.setUint32(4, written);
  if (body) target.set(body, at + 8 + written);
  return at + 8 + written + bodyLength;
}

/** Encodes a header and optional body as one frame; throws FrameError past the limits. */
export function encodeFrame(
  header: unknown,
  body?: Uint8Array,
  limits: FrameLimits = SANDBOX_LIMITS,
): Uint8Array<ArrayBuffer> {
  const json = JSON.stringify(header);
  const frame = new Uint8Array(frameBound(json, body));
  return frame.slice(0, writeFrame(frame, 0, json, body, limits));
}

/** Splits a byte stream into frames; feed it chunks, take the frames that completed. */
export class FrameReader {
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  /** Bytes still needed for the frame being read, or -1 while its length is unknown. */
  #need = -1;
  readonly #limits: FrameLimits;

  /** `limits`: those of the host↔sandbox wire unless another wire says otherwise. */
  constructor(limits: FrameLimits = SANDBOX_LIMITS) {
    this.#limits = limits;
  }

  /** Bytes received that belong to no complete frame yet (a cut frame, when the stream ends). */
  get pending(): number {
    return this.#buffered;
  }

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
        if (rest < 4 || rest > this.#limits.maxFrameBytes) {
          throw new FrameError(`a frame of ${rest} bytes is outside the limits`);
        }
        this.#need = rest;
      }
      if (this.#buffered < this.#need) break;
      const frame = this.#take(this.#need);
      this.#need = -1;
      out.push(decodeRest(frame, this.#limits));
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

function decodeRest(frame: Uint8Array, limits: FrameLimits): Envelope<unknown> {
  const headerLength = new DataView(frame.buffer, frame.byteOffset, 4).getUint32(0);
  if (headerLength > frame.length - 4 || headerLength > limits.maxHeaderBytes) {
    throw new FrameError(`a frame header of ${headerLength} bytes is outside the frame`);
  }
  const text = frame.subarray(4, 4 + headerLength);
  const problem = limits.headerShape ? jsonShapeProblem(text, limits.headerShape) : null;
  if (problem) throw new FrameError(`a frame header ${problem}`);
  let header: unknown;
  try {
    header = JSON.parse(decoder.decode(text));
  } catch {
    throw new FrameError("a frame header is not valid JSON");
  }
  const body = frame.length > 4 + headerLength ? frame.subarray(4 + headerLength) : undefined;
  return { header, body };
}

/** Capacity a FrameWriter's batch buffer starts with, and keeps between batches (64 KB). */
const BATCH_BYTES = 64 * 1024;

/**
 * Queues frames for a sink (a socket), and hands it everything queued until `defer` calls back,
 * or while its previous write was under way, as one buffer: a burst of messages costs one write
 * rather than one each. Frames are encoded straight into the batch (no per-frame buffer, no
 * copy to join them); a batch buffer grown past BATCH_BYTES for a large frame is let go after it
 * is written, so a quiet connection holds at most two small buffers.
 */
export class FrameWriter {
  readonly #sink: (bytes: Uint8Array<ArrayBuffer>) => Promise<void> | void;
  readonly #defer: (drain: () => void) => void;
  #buffer: Uint8Array<ArrayBuffer> = new Uint8Array(BATCH_BYTES);
  /** A written batch buffer, reused for the next batch. */
  #spare: Uint8Array<ArrayBuffer> | null = null;
  #length = 0;
  /** What to call once the frames queued in the batch buffer have been written (or dropped). */
  #written: Array<() => void> = [];
  /** Bytes of the batch the sink is writing now. */
  #inFlight = 0;
  /** Waiters of `whenBelow`: each resolves once the queued bytes are at most its figure. */
  #belowWaiters: Array<{ bytes: number; resolve(): void }> = [];
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

  /** Encodes and queues a message; throws FrameError past the limits; dropped after a failure. */
  send(header: unknown, body?: Uint8Array): void {
    if (this.#failed) return;
    this.#queue(JSON.stringify(header), body);
  }

  /**
   * Encodes a message and queues it if `hold` admits its size (the header's JSON characters and
   * the body's bytes): `hold` answers how to give that back, called once the frame has been
   * written to the sink (or dropped with a failed one), or null to refuse it. Answers whether
   * the frame was queued; throws FrameError past the limits.
   */
  trySend(
    header: unknown,
    body: Uint8Array | undefined,
    hold: (bytes: number) => (() => void) | null,
  ): boolean {
    if (this.#failed) return true;
    const json = JSON.stringify(header);
    const release = hold(json.length + (body?.length ?? 0));
    if (!release) return false;
    try {
      this.#queue(json, body);
    } catch (error) {
      release();
      throw error;
    }
    this.#written.push(release);
    return true;
  }

  /** Encodes the frame of `json` and `body` at the end of the batch, and schedules its write. */
  #queue(json: string, body: Uint8Array | undefined): void {
    const at = this.#reserve(frameBound(json, body));
    this.#length = writeFrame(this.#buffer, at, json, body);
    this.#schedule();
  }

  /** Bytes queued and not yet taken by the sink: the batch being gathered and the one in flight. */
  get queued(): number {
    return this.#length + this.#inFlight;
  }

  /**
   * Resolves once at most `bytes` are queued (at once if so already, or once the writer failed):
   * a producer that waits here holds no more than that in this process for a slow reader.
   */
  whenBelow(bytes: number): Promise<void> {
    if (this.#failed || this.queued <= bytes) return Promise.resolve();
    return new Promise((resolve) => this.#belowWaiters.push({ bytes, resolve }));
  }

  /** Wakes the `whenBelow` waiters whose figure the queue is now within. */
  #wakeBelow(): void {
    if (this.#belowWaiters.length === 0) return;
    const queued = this.#failed ? 0 : this.queued;
    const still: Array<{ bytes: number; resolve(): void }> = [];
    for (const waiter of this.#belowWaiters) {
      if (queued <= waiter.bytes) waiter.resolve();
      else still.push(waiter);
    }
    this.#belowWaiters = still;
  }

  /** Queues bytes that are already frames. */
  sendEncoded(bytes: Uint8Array): void {
    if (this.#failed) return;
    const at = this.#reserve(bytes.length);
    this.#buffer.set(bytes, at);
    this.#length = at + bytes.length;
    this.#schedule();
  }

  /** Makes room for `bytes` more at the end of the batch; answers where they start. */
  #reserve(bytes: number): number {
    const need = this.#length + bytes;
    if (need > this.#buffer.length) {
      const grown = new Uint8Array(Math.max(need, this.#buffer.length * 2));
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
    }
    return this.#length;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#defer(() => void this.#drain());
  }

  async #drain(): Promise<void> {
    let done: Array<() => void> = [];
    try {
      while (this.#length > 0) {
        const batch = this.#buffer.subarray(0, this.#length);
        const written = this.#buffer;
        this.#buffer = this.#spare ?? new Uint8Array(BATCH_BYTES);
        this.#spare = null;
        this.#length = 0;
        done = this.#written;
        this.#written = [];
        this.#inFlight = batch.length;
        await this.#sink(batch);
        this.#inFlight = 0;
        for (const release of done) release();
        done = [];
        if (written.length === BATCH_BYTES) this.#spare = written;
        this.#wakeBelow();
      }
    } catch {
      this.#failed = true;
      this.#length = 0;
      this.#inFlight = 0;
      for (const release of [...done, ...this.#written]) release();
      this.#written = [];
    } finally {
      this.#scheduled = false;
      this.#wakeBelow();
    }
  }
}

/** The buffer reads of a socket land in (64 KB); a new one is taken when little is left. */
const READ_BUFFER_BYTES = 64 * 1024;
/** Room below which a read buffer is let go for a new one (16 KB). */
const MIN_READ_BYTES = 16 * 1024;

/**
 * The chunks read from `conn`, as an iterator. Reads land one after another in a 64 KB buffer,
 * each chunk a view of its part, and a new buffer is taken once less than 16 KB is left: a
 * small batch of frames costs no allocation of its own (a socket's ReadableStream allocates a
 * fresh 64 KB buffer per read, through a chain of promises). A view holds its buffer, so what a
 * reader keeps of partial frames pins at most its own size plus one buffer.
 */
export function socketChunks(
  conn: Deno.Conn,
): AsyncIterator<Uint8Array> & AsyncIterable<Uint8Array> {
  let buffer = new Uint8Array(READ_BUFFER_BYTES);
  let used = 0;
  const chunks = {
    async next(): Promise<IteratorResult<Uint8Array, undefined>> {
      if (buffer.length - used < MIN_READ_BYTES) {
        buffer = new Uint8Array(READ_BUFFER_BYTES);
        used = 0;
      }
      const at = used;
      const read = await conn.read(buffer.subarray(at));
      if (read === null) return { done: true, value: undefined };
      used += read;
      return { done: false, value: buffer.subarray(at, at + read) };
    },
    [Symbol.asyncIterator]: () => chunks,
  };
  return chunks;
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

/**
 * The pipe between the host and a compile process: the platform's frame format
 * (runtime/sandbox/frames.ts) with larger limits, whose JSON header names the texts the body
 * carries. Source files and compiled code travel as raw UTF-8 after the header, never inside
 * JSON, so neither side escapes or parses megabytes of code.
 */
import { encodeFrame, type FrameLimits, FrameReader } from "../../sandbox/frames.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Largest frame either side accepts, in bytes (96 MB: a 16 MB deploy body, or code and maps). */
export const MAX_FRAME_BYTES = 96 * 1024 * 1024;

/** The compile pipe's frame limits: any header fits a frame. */
const LIMITS: FrameLimits = { maxFrameBytes: MAX_FRAME_BYTES, maxHeaderBytes: MAX_FRAME_BYTES };

/** One message: a JSON head, and named texts sent beside it. */
export interface Message<Head> {
  head: Head;
  /** name → text, e.g. path → source, or module name → compiled code. */
  texts: Record<string, string>;
}

/** What a header carries on the wire: the texts' names and byte lengths, in order. */
interface WireHead {
  texts: Array<[name: string, bytes: number]>;
  head: unknown;
}

/** Encodes a message as one frame; throws past MAX_FRAME_BYTES. */
export function encodeMessage<Head>(message: Message<Head>): Uint8Array<ArrayBuffer> {
  const bodies = Object.values(message.texts).map((text) => encoder.encode(text));
  const names = Object.keys(message.texts);
  const wire: WireHead = {
    texts: names.map((name, i) => [name, bodies[i]!.length]),
    head: message.head,
  };
  const body = new Uint8Array(bodies.reduce((sum, b) => sum + b.length, 0));
  let offset = 0;
  for (const part of bodies) {
    body.set(part, offset);
    offset += part.length;
  }
  return encodeFrame(wire, body, LIMITS);
}

/** Reads messages off a byte stream, one frame at a time. */
export class MessageReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #frames = new FrameReader(LIMITS);
  readonly #ready: Array<{ header: unknown; body?: Uint8Array | undefined }> = [];

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** The next message, or null when the stream ended; throws on a frame that breaks the format. */
  async next<Head>(): Promise<Message<Head> | null> {
    while (this.#ready.length === 0) {
      const { value, done } = await this.#reader.read();
      if (done) {
        if (this.#frames.pending > 0) throw new Error("the compile message was cut short");
        return null;
      }
      this.#ready.push(...this.#frames.push(value));
    }
    const { header, body } = this.#ready.shift()!;
    const wire = header as WireHead;
    const bytes = body ?? new Uint8Array(0);
    const texts: Record<string, string> = {};
    let offset = 0;
    for (const [name, length] of wire.texts) {
      if (offset + length > bytes.length) throw new Error("a compile message's text overruns it");
      texts[name] = decoder.decode(bytes.subarray(offset, offset + length));
      offset += length;
    }
    return { head: wire.head as Head, texts };
  }

  /** Stops reading; the stream is released. */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

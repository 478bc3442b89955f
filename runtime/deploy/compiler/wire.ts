/**
 * The pipe between the host and a compile process: frames of
 * `u32 rest length | u32 head length | head (UTF-8 JSON) | texts (UTF-8)`, big-endian. Source
 * files and compiled code travel as raw UTF-8 after the head, never inside JSON, so neither side
 * escapes or parses megabytes of code.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Largest frame either side accepts, in bytes (96 MB: a 16 MB deploy body, or code and maps). */
export const MAX_FRAME_BYTES = 96 * 1024 * 1024;

/** One message: a JSON head, and named texts sent beside it. */
export interface Message<Head> {
  head: Head;
  /** name → text, e.g. path → source, or module name → compiled code. */
  texts: Record<string, string>;
}

/** What a head carries on the wire: the texts' names and byte lengths, in order. */
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
  const json = encoder.encode(JSON.stringify(wire));
  const rest = 4 + json.length + bodies.reduce((sum, b) => sum + b.length, 0);
  if (rest > MAX_FRAME_BYTES) {
    throw new Error(`a compile message of ${rest} bytes is over the limit of ${MAX_FRAME_BYTES}`);
  }
  const frame = new Uint8Array(4 + rest);
  const view = new DataView(frame.buffer);
  view.setUint32(0, rest);
  view.setUint32(4, json.length);
  frame.set(json, 8);
  let offset = 8 + json.length;
  for (const body of bodies) {
    frame.set(body, offset);
    offset += body.length;
  }
  return frame;
}

/** Reads messages off a byte stream, one frame at a time; each byte is copied once. */
export class MessageReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #chunks: Uint8Array[] = [];
  #buffered = 0;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** The next message, or null when the stream ended; throws on a frame that breaks the format. */
  async next<Head>(): Promise<Message<Head> | null> {
    if (!await this.#fill(4)) return null;
    const rest = new DataView(this.#take(4).buffer).getUint32(0);
    if (rest < 4 || rest > MAX_FRAME_BYTES) {
      throw new Error(`a compile message of ${rest} bytes is outside the limits`);
    }
    if (!await this.#fill(rest)) throw new Error("the compile message was cut short");
    const frame = this.#take(rest);
    const headLength = new DataView(frame.buffer).getUint32(0);
    if (headLength > rest - 4) throw new Error("a compile message's head is outside its frame");
    const wire = JSON.parse(decoder.decode(frame.subarray(4, 4 + headLength))) as WireHead;
    const texts: Record<string, string> = {};
    let offset = 4 + headLength;
    for (const [name, bytes] of wire.texts) {
      if (offset + bytes > frame.length) throw new Error("a compile message's text overruns it");
      texts[name] = decoder.decode(frame.subarray(offset, offset + bytes));
      offset += bytes;
    }
    return { head: wire.head as Head, texts };
  }

  /** Stops reading; the stream is released. */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }

  /** Reads until `n` bytes are buffered; false when the stream ends first. */
  async #fill(n: number): Promise<boolean> {
    while (this.#buffered < n) {
      const { value, done } = await this.#reader.read();
      if (done) return false;
      this.#chunks.push(value);
      this.#buffered += value.length;
    }
    return true;
  }

  /** Removes the first `n` buffered bytes into one fresh array. */
  #take(n: number): Uint8Array<ArrayBuffer> {
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
    this.#buffered -= n;
    return out;
  }
}

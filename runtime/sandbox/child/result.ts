/**
 * Turns what a handler returned into a FunctionResult and its body bytes, or says clearly why
 * it cannot be sent. Runs inside the sandbox, so a bad value never has to cross the wire.
 */
import {
  BadResultError,
  type FunctionResult,
  MAX_RESPONSE_BYTES,
  MAX_RESPONSE_HEADERS,
} from "../protocol.ts";

const encoder = new TextEncoder();

/** A body the handler streams: a ReadableStream or any async iterable of strings or bytes. */
function streamOf(body: unknown): AsyncIterable<unknown> | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  if (Symbol.asyncIterator in body) return body as AsyncIterable<unknown>;
  return undefined;
}

/** A handler's answer ready for the wire; `drops` names reserved headers taken out of it. */
export interface Answer {
  result: FunctionResult;
  body?: Uint8Array | undefined;
  stream?: AsyncIterable<unknown> | undefined;
  drops?: string[] | undefined;
}

/**
 * Validates and serialises a handler's return value: the seed's `{ status, body, headers }`
 * or a web `Response`. A streamed body is handed back as `stream`, to be sent chunk by chunk
 * after the result.
 */
export function toResult(out: unknown): Answer {
  if (out === undefined || out === null) {
    return { result: { status: 200, headers: [], body: { type: "none" } } };
  }
  if (out instanceof Response) return fromResponse(out);
  if (typeof out !== "object" || Array.isArray(out)) {
    throw new BadResultError(
      "a handler must return an object like { status, body, headers } or a Response, got " +
        describe(out),
    );
  }
  const { status = 200, headers = {}, body } = out as Record<string, unknown>;
  if (typeof status !== "number" || !Number.isInteger(status) || status < 200 || status > 599) {
    throw new BadResultError(`status must be an integer from 200 to 599, got ${describe(status)}`);
  }
  const { pairs, drops } = toHeaders(headerPairs(headers));
  const stream = streamOf(body);
  if (stream) {
    return {
      result: {
        status,
        headers: pairs,
        body: { type: "stream", contentType: "application/octet-stream" },
      },
      stream,
      drops,
    };
  }
  const encoded = toBody(body);
  return {
    result: {
      status,
      headers: pairs,
      body: encoded ? { type: "bytes", contentType: encoded.contentType } : { type: "none" },
    },
    body: encoded?.bytes,
    drops,
  };
}

/**
 * A web `Response` as it would reach a browser: its status, every header (each `Set-Cookie`
 * its own), and its body streamed as produced; no content type is added when it has none.
 */
function fromResponse(response: Response): Answer {
  if (response.type === "error" || response.status === 0) {
    throw new BadResultError("a Response.error() cannot be sent: return a status from 200 to 599");
  }
  if (response.bodyUsed) {
    throw new BadResultError("the Response's body was already read; return a fresh Response");
  }
  const { pairs, drops } = toHeaders([...response.headers]);
  const status = response.status;
  if (response.body === null) return { result: { status, headers: pairs, body: { type: "none" } } };
  return {
    result: { status, headers: pairs, body: { type: "stream", contentType: "" } },
    stream: response.body,
    drops,
  };
}

/**
 * The answer to a HEAD request: the result's head, with the body's length when it was built
 * whole; a streamed body is cancelled unread (HEAD sends no body).
 */
export function headOf(answer: Answer): Answer {
  const { result, body, stream, drops } = answer;
  if (result.body.type === "none" || result.body.type === "head") return { result, drops };
  if (stream) {
    const iterator = stream[Symbol.asyncIterator]();
    void Promise.resolve(iterator.return?.()).catch(() => {});
  }
  const length = result.body.type === "bytes" ? body?.length ?? 0 : null;
  return {
    result: { ...result, body: { type: "head", contentType: result.body.contentType, length } },
    drops,
  };
}

/**
 * Response headers a handler cannot set: the server owns framing and connection handling. They
 * are taken out here, and the runtime logs each drop.
 */
const RESERVED_HEADERS = [
  "connection",
  "content-length",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
];

/**
 * The seed's `headers` as pairs: an object whose values are strings, numbers or arrays of them
 * (several `Set-Cookie`), a `Headers`, or a list of `[name, value]` pairs.
 */
function headerPairs(headers: unknown): Array<[string, unknown]> {
  if (headers instanceof Headers) return [...headers];
  if (Array.isArray(headers)) {
    return headers.map((pair, i) => {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string") {
        throw new BadResultError(
          `headers[${i}] must be a [name, value] pair, got ${describe(pair)}`,
        );
      }
      return [pair[0], pair[1]];
    });
  }
  if (typeof headers !== "object" || headers === null) {
    throw new BadResultError(
      `headers must be an object of strings, a Headers or [name, value] pairs, got ${
        describe(headers)
      }`,
    );
  }
  const pairs: Array<[string, unknown]> = [];
  for (const [name, value] of Object.entries(headers)) {
    if (Array.isArray(value)) { for (const item of value) pairs.push([name, item]); }
    else pairs.push([name, value]);
  }
  return pairs;
}

/**
 * Checks each pair (a string or number value, a valid name and value) and takes the reserved
 * headers out; the pairs keep every `Set-Cookie` apart.
 */
function toHeaders(
  pairs: Array<[string, unknown]>,
): { pairs: Array<[string, string]>; drops: string[] } {
  if (pairs.length === 0) return { pairs: [], drops: [] };
  // Counted before any is built: the host refuses past the limit anyway, and a handler's
  // 20,000 headers must not cost the sandbox its time limit first.
  if (pairs.length > MAX_RESPONSE_HEADERS) {
    throw new BadResultError(
      `the response has ${pairs.length} headers, over the limit of ${MAX_RESPONSE_HEADERS}`,
    );
  }
  const headers = new Headers();
  for (const [name, value] of pairs) {
    if (typeof value !== "string" && typeof value !== "number") {
      throw new BadResultError(
        `header "${name.slice(0, 256)}" must be a string, a number or an array of them, got ${
          describe(value)
        }`,
      );
    }
    try {
      headers.append(name, String(value));
    } catch {
      throw new BadResultError(
        `header ${JSON.stringify(name.slice(0, 256))} has an invalid name or value`,
      );
    }
  }
  const drops = RESERVED_HEADERS.filter((name) => headers.has(name));
  for (const name of drops) headers.delete(name);
  return { pairs: [...headers], drops };
}

function toBody(body: unknown): { bytes: Uint8Array; contentType: string } | null {
  if (body === undefined || body === null) return null;
  if (typeof body === "string") {
    return { bytes: checkSize(encoder.encode(body)), contentType: "text/plain; charset=utf-8" };
  }
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) {
    const view = body instanceof ArrayBuffer
      ? new Uint8Array(body)
      : new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    // A copy: the handler may keep using its buffer, and ours is transferred away.
    return { bytes: checkSize(view).slice(), contentType: "application/octet-stream" };
  }
  if (typeof body === "function" || typeof body === "symbol" || typeof body === "bigint") {
    throw new BadResultError(`body cannot be sent: it is ${describe(body)}`);
  }
  let text: string;
  try {
    text = JSON.stringify(body);
  } catch (error) {
    throw new BadResultError(`body cannot be serialised as JSON: ${(error as Error).message}`);
  }
  return { bytes: checkSize(encoder.encode(text)), contentType: "application/json; charset=utf-8" };
}

function checkSize(bytes: Uint8Array): Uint8Array {
  if (bytes.length > MAX_RESPONSE_BYTES) {
    throw new BadResultError(
      `response body is ${bytes.length} bytes, over the limit of ${MAX_RESPONSE_BYTES} bytes (6 MB)`,
    );
  }
  return bytes;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "function") return "a function";
  if (typeof value === "symbol") return "a symbol";
  if (typeof value === "object") return "an object";
  const text = String(value);
  // A user's value can be megabytes long; the error names it, it does not echo it.
  return `${typeof value} ${
    text.length > 80 ? `${text.slice(0, 80)}… (${text.length} chars)` : text
  }`;
}

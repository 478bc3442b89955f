/**
 * Turns what a handler returned into a FunctionResult and its body bytes, or says clearly why
 * it cannot be sent. Runs inside the sandbox, so a bad value never has to cross the wire.
 */
import { BadResultError, type FunctionResult, MAX_RESPONSE_BYTES } from "../protocol.ts";

const encoder = new TextEncoder();

/** A body the handler streams: a ReadableStream or any async iterable of strings or bytes. */
function streamOf(body: unknown): AsyncIterable<unknown> | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  if (Symbol.asyncIterator in body) return body as AsyncIterable<unknown>;
  return undefined;
}

/**
 * Validates and serialises a handler's return value; a streamed body is handed back as
 * `stream`, to be sent chunk by chunk after the result.
 */
export function toResult(
  out: unknown,
): { result: FunctionResult; body?: Uint8Array | undefined; stream?: AsyncIterable<unknown> } {
  if (out === undefined || out === null) {
    return { result: { status: 200, headers: {}, body: { type: "none" } } };
  }
  if (typeof out !== "object" || Array.isArray(out)) {
    throw new BadResultError(
      `a handler must return an object like { status, body, headers }, got ${describe(out)}`,
    );
  }
  const { status = 200, headers = {}, body } = out as Record<string, unknown>;
  if (typeof status !== "number" || !Number.isInteger(status) || status < 200 || status > 599) {
    throw new BadResultError(`status must be an integer from 200 to 599, got ${describe(status)}`);
  }
  const stream = streamOf(body);
  if (stream) {
    return {
      result: {
        status,
        headers: toHeaders(headers),
        body: { type: "stream", contentType: "application/octet-stream" },
      },
      stream,
    };
  }
  const encoded = toBody(body);
  return {
    result: {
      status,
      headers: toHeaders(headers),
      body: encoded ? { type: "bytes", contentType: encoded.contentType } : { type: "none" },
    },
    body: encoded?.bytes,
  };
}

/**
 * The answer to a HEAD request: the result's head, with the body's length when it was built
 * whole; a streamed body is cancelled unread (HEAD sends no body).
 */
export function headOf(
  answer: ReturnType<typeof toResult>,
): { result: FunctionResult; body?: undefined; stream?: undefined } {
  const { result, body, stream } = answer;
  if (result.body.type === "none" || result.body.type === "head") return { result };
  if (stream) {
    const iterator = stream[Symbol.asyncIterator]();
    void Promise.resolve(iterator.return?.()).catch(() => {});
  }
  const length = result.body.type === "bytes" ? body?.length ?? 0 : null;
  return {
    result: { ...result, body: { type: "head", contentType: result.body.contentType, length } },
  };
}

function toHeaders(headers: unknown): Record<string, string> {
  if (typeof headers !== "object" || headers === null || Array.isArray(headers)) {
    throw new BadResultError(`headers must be an object of strings, got ${describe(headers)}`);
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== "string" && typeof value !== "number") {
      throw new BadResultError(`header "${name}" must be a string, got ${describe(value)}`);
    }
    out[name] = String(value);
  }
  return out;
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

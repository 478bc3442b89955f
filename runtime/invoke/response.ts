/** Turns a handler's result into an HTTP response. */
import { BadResultError, type FunctionResult } from "../sandbox/protocol.ts";

/** Response headers a handler cannot set: the server owns framing and connection handling. */
const RESERVED_HEADERS = new Set([
  "connection",
  "content-length",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
]);
/** Statuses that must not carry a body. */
const NO_BODY = new Set([204, 205, 304]);

/** Most response headers a function may set. */
const MAX_RESPONSE_HEADERS = 100;
/** Largest total size of the response headers a function may set, in bytes (32 KB). */
const MAX_RESPONSE_HEADER_BYTES = 32 * 1024;

/**
 * Builds the Response; throws BadResultError for what HTTP forbids or the limits refuse. The
 * result was written by code the tenant controls, so its shape is checked here again.
 */
export function toResponse(
  result: FunctionResult,
  bytes?: Uint8Array,
  stream?: ReadableStream<Uint8Array>,
): Response {
  const { status } = result ?? {};
  if (typeof status !== "number" || !Number.isInteger(status) || status < 200 || status > 599) {
    throw new BadResultError("status must be an integer from 200 to 599");
  }
  if (typeof result.headers !== "object" || result.headers === null) {
    throw new BadResultError("headers must be an object of strings");
  }
  const entries = Object.entries(result.headers);
  if (entries.length > MAX_RESPONSE_HEADERS) {
    throw new BadResultError(
      `the response has ${entries.length} headers, over the limit of ${MAX_RESPONSE_HEADERS}`,
    );
  }
  let size = 0;
  for (const [name, value] of entries) size += name.length + String(value).length + 4;
  if (size > MAX_RESPONSE_HEADER_BYTES) {
    throw new BadResultError(
      `the response headers are ${size} bytes, over the limit of ${MAX_RESPONSE_HEADER_BYTES}`,
    );
  }
  const headers = new Headers();
  for (const [name, value] of entries) {
    if (typeof value !== "string") throw new BadResultError(`header "${name}" must be a string`);
    if (RESERVED_HEADERS.has(name.toLowerCase())) continue;
    try {
      headers.append(name, value);
    } catch {
      throw new BadResultError(`header ${JSON.stringify(name)} has an invalid name or value`);
    }
  }
  const { body } = result;
  if (body?.type === "head") {
    if (!headers.has("content-type")) headers.set("content-type", String(body.contentType));
    if (Number.isSafeInteger(body.length) && body.length! >= 0) {
      headers.set("content-length", String(body.length));
    }
    return new Response(null, { status: result.status, headers });
  }
  if (body?.type !== "bytes" && body?.type !== "stream") {
    return new Response(null, { status: result.status, headers });
  }
  if (NO_BODY.has(result.status)) {
    throw new BadResultError(`status ${result.status} cannot have a body`);
  }
  if (!headers.has("content-type")) headers.set("content-type", String(body.contentType));
  if (body.type === "stream") return new Response(stream ?? null, { status, headers });
  return new Response(bytes as Uint8Array<ArrayBuffer> | undefined ?? null, {
    status: result.status,
    headers,
  });
}

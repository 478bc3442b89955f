/** Turns a handler's result into an HTTP response. */
import { BadResultError, type FunctionResult, MAX_RESPONSE_HEADERS } from "../sandbox/protocol.ts";

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
  if (!Array.isArray(result.headers)) {
    throw new BadResultError("headers must be a list of [name, value] pairs");
  }
  const entries = result.headers;
  if (entries.length > MAX_RESPONSE_HEADERS) {
    throw new BadResultError(
      `the response has ${entries.length} headers, over the limit of ${MAX_RESPONSE_HEADERS}`,
    );
  }
  let size = 0;
  for (const entry of entries) {
    if (
      !Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== "string" ||
      typeof entry[1] !== "string"
    ) {
      throw new BadResultError("each header must be a [name, value] pair of strings");
    }
    size += entry[0].length + entry[1].length + 4;
  }
  if (size > MAX_RESPONSE_HEADER_BYTES) {
    throw new BadResultError(
      `the response headers are ${size} bytes, over the limit of ${MAX_RESPONSE_HEADER_BYTES}`,
    );
  }
  const headers = new Headers();
  for (const [name, value] of entries) {
    // The sandbox already took these out and logged it; the server frames the response itself.
    if (RESERVED_HEADERS.has(name.toLowerCase())) continue;
    try {
      headers.append(name, value);
    } catch {
      throw new BadResultError(`header ${JSON.stringify(name)} has an invalid name or value`);
    }
  }
  const { body } = result;
  if (body?.type === "head") {
    setDefaultType(headers, body.contentType);
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
  setDefaultType(headers, body.contentType);
  if (body.type === "stream") return new Response(stream ?? null, { status, headers });
  return new Response(bytes as Uint8Array<ArrayBuffer> | undefined ?? null, {
    status: result.status,
    headers,
  });
}

/** Sets the body's default content type when the handler set none; "" means none at all. */
function setDefaultType(headers: Headers, contentType: unknown): void {
  if (headers.has("content-type") || contentType === "") return;
  headers.set("content-type", String(contentType));
}

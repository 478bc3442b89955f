/** Turns a handler's result into an HTTP response. */
import { BadResultError, type FunctionResult, MAX_RESPONSE_HEADERS } from "../sandbox/protocol.ts";
import { type HeaderDrop, isolateHeaders, type ResponseOrigin } from "./origin.ts";

/** Response headers a handler cannot set: the server owns framing and connection handling. */
const RESERVED_HEADERS = new Set([
  "connection",
  "content-length",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
]);
/** What an HTTP header name may be: an RFC 9110 token. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Statuses that must not carry a body. */
const NO_BODY = new Set([204, 205, 304]);

/** Largest total size of the response headers a function may set, in bytes (32 KB). */
const MAX_RESPONSE_HEADER_BYTES = 32 * 1024;

/** Header that carries the request id on every function response. */
export const REQUEST_ID_HEADER = "x-request-id";

/**
 * Builds the Response with the origin rules applied (origin.ts) and the platform's `extra`
 * headers (names lower-case; they replace any the function set), answering it with the headers
 * dropped and why; throws BadResultError for what HTTP forbids or the limits refuse. The result
 * was written by code the tenant controls, so its shape is checked here again. Headers are
 * appended to the response's own list: converting a headers init costs more in Deno.
 */
export function toResponse(
  result: FunctionResult,
  bytes: Uint8Array | undefined,
  stream: ReadableStream<Uint8Array> | undefined,
  origin: ResponseOrigin,
  extra: ReadonlyArray<[string, string]>,
): { response: Response; dropped: HeaderDrop[] } {
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
  let typed = false;
  const pairs: Array<[string, string]> = [];
  for (const entry of entries) {
    if (
      !Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== "string" ||
      typeof entry[1] !== "string"
    ) {
      throw new BadResultError("each header must be a [name, value] pair of strings");
    }
    size += entry[0].length + entry[1].length + 4;
    // Checked before it is lower-cased: Unicode case mapping would turn some invalid names
    // (`X-\u212A`, a Kelvin sign) into valid ones.
    if (!HEADER_NAME.test(entry[0])) {
      throw new BadResultError(`header ${JSON.stringify(entry[0])} has an invalid name or value`);
    }
    const name = entry[0].toLowerCase();
    // The sandbox already took these out and logged it; the server frames the response itself.
    if (RESERVED_HEADERS.has(name) || extra.some(([own]) => own === name)) continue;
    if (name === "content-type") typed = true;
    pairs.push([name, entry[1]]);
  }
  if (size > MAX_RESPONSE_HEADER_BYTES) {
    throw new BadResultError(
      `the response headers are ${size} bytes, over the limit of ${MAX_RESPONSE_HEADER_BYTES}`,
    );
  }
  const { body } = result;
  let response: Response;
  let contentType: unknown = "";
  let contentLength: string | null = null;
  if (body?.type === "head") {
    contentType = body.contentType;
    if (Number.isSafeInteger(body.length) && body.length! >= 0) {
      contentLength = String(body.length);
    }
    response = new Response(null, { status });
  } else if (body?.type !== "bytes" && body?.type !== "stream") {
    response = new Response(null, { status });
  } else {
    if (NO_BODY.has(status)) throw new BadResultError(`status ${status} cannot have a body`);
    contentType = body.contentType;
    response = body.type === "stream"
      ? new Response(stream ?? null, { status })
      : new Response(bytes as Uint8Array<ArrayBuffer> | undefined ?? null, { status });
  }
  const { headers, dropped } = isolateHeaders(pairs, origin);
  const list = response.headers;
  for (const [name, value] of headers) {
    try {
      list.append(name, value);
    } catch {
      throw new BadResultError(`header ${JSON.stringify(name)} has an invalid name or value`);
    }
  }
  // The body's default content type when the handler set none; "" means none at all.
  if (!typed && contentType !== "" && contentType !== undefined) {
    list.append("content-type", String(contentType));
  }
  if (contentLength !== null) list.append("content-length", contentLength);
  for (const [name, value] of extra) list.append(name, value);
  return { response, dropped };
}

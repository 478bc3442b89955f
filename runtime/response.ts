/** Turns a handler's result into an HTTP response. */
import { BadResultError, type FunctionResult } from "./sandbox/protocol.ts";

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

/** Builds the Response; throws BadResultError for headers or status/body combinations HTTP forbids. */
export function toResponse(result: FunctionResult, bytes?: Uint8Array): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(result.headers)) {
    if (RESERVED_HEADERS.has(name.toLowerCase())) continue;
    try {
      headers.append(name, value);
    } catch {
      throw new BadResultError(`header ${JSON.stringify(name)} has an invalid name or value`);
    }
  }
  const { body } = result;
  if (body.type === "none") return new Response(null, { status: result.status, headers });
  if (NO_BODY.has(result.status)) {
    throw new BadResultError(`status ${result.status} cannot have a body`);
  }
  if (!headers.has("content-type")) headers.set("content-type", body.contentType);
  return new Response(bytes as Uint8Array<ArrayBuffer> | undefined ?? null, {
    status: result.status,
    headers,
  });
}

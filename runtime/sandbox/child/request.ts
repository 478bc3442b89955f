/**
 * Builds `ctx.req` inside the sandbox from what the host sent: the raw query string, header
 * pairs and body bytes. Parsing runs here, in the app's own capped process, so a hostile body
 * costs its app and nobody else; every parser is linear in its input and bounded.
 */
import { MAX_JSON_DEPTH, MAX_PARAMS, type WireRequest } from "../protocol.ts";
import { valueShapeProblem } from "./value_shape.ts";
import type { FunctionRequest } from "../ctx.ts";

/** A request the sandbox cannot parse; answered 400 with its message, before the handler runs. */
export class BadRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BadRequestError";
  }
}

/** Sets an own property, also for keys like `__proto__` that plain assignment would not create. */
function put<T>(target: Record<string, T>, key: string, value: T): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  } else target[key] = value;
}

/**
 * `URLSearchParams` as a plain object; repeated keys become arrays (appended in place, so
 * linear). Throws past MAX_PARAMS parameters.
 */
function paramsToObject(text: string, what: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  // Most requests have no query string: no URLSearchParams and its iterator to make for them.
  if (text === "") return out;
  let count = 0;
  for (const [key, value] of new URLSearchParams(text)) {
    if (++count > MAX_PARAMS) {
      throw new BadRequestError(`the ${what} has more than ${MAX_PARAMS} parameters`);
    }
    const existing = Object.hasOwn(out, key) ? out[key] : undefined;
    if (existing === undefined) put(out, key, value);
    else if (Array.isArray(existing)) existing.push(value);
    else put(out, key, [existing, value]);
  }
  return out;
}

/** The body as the handler sees it, by content type (README "The handler's view"). */
function parseBody(bytes: Uint8Array | undefined, contentType: string): unknown {
  if (!bytes || bytes.length === 0) return undefined;
  const mime = contentType.split(";")[0]!.trim().toLowerCase();
  const isJson = mime === "application/json" || mime.endsWith("+json");
  const isText = mime.startsWith("text/");
  const isForm = mime === "application/x-www-form-urlencoded";
  if (!isJson && !isText && !isForm) return bytes;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new BadRequestError(`the request body is not valid UTF-8 (content-type ${mime})`);
  }
  if (isText) return text;
  if (isForm) return paramsToObject(text, "form body");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BadRequestError(`the request body is not valid JSON: ${(error as Error).message}`);
  }
  if (valueShapeProblem(value, { depth: MAX_JSON_DEPTH, nodes: Infinity })) {
    throw new BadRequestError(`the JSON body is nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  return value;
}

/** `ctx.req` for `wire` and its body bytes; throws BadRequestError for what cannot be parsed. */
export function toFunctionRequest(
  wire: WireRequest,
  bytes: Uint8Array | undefined,
): FunctionRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of wire.headers) put(headers, name, value);
  return {
    method: wire.method,
    path: wire.path,
    params: wire.params,
    query: paramsToObject(wire.query, "query string"),
    headers,
    body: parseBody(bytes, Object.hasOwn(headers, "content-type") ? headers["content-type"]! : ""),
    // Frames are read into ArrayBuffers (never shared memory): Web Crypto takes it as it is.
    rawBody: (bytes ?? new Uint8Array(0)) as Uint8Array<ArrayBuffer>,
  };
}

/** The scheme the client called: what a proxy in front said (`x-forwarded-proto`), else http. */
function schemeOf(headers: Headers): string {
  const forwarded = headers.get("x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase();
  return forwarded === "https" ? "https" : "http";
}

/**
 * A web `Request` for `wire`: the URL the client called (its Host, the path as sent), every
 * header, and the body's bytes as received, unparsed. `method` overrides the wire's (a scheduled
 * run calls GET). Throws BadRequestError for a method a web Request cannot carry.
 */
export function toWebRequest(
  wire: WireRequest,
  bytes: Uint8Array | undefined,
  method = wire.method,
): Request {
  const headers = new Headers(wire.headers);
  let url: URL;
  try {
    url = new URL(`${schemeOf(headers)}://${headers.get("host") ?? "localhost"}${wire.url}`);
  } catch {
    url = new URL(wire.url, "http://localhost");
  }
  const body = method === "GET" || method === "HEAD" ? null : bytes ?? null;
  try {
    return new Request(url, { method, headers, body: body as Uint8Array<ArrayBuffer> | null });
  } catch (error) {
    throw new BadRequestError(
      `the ${method.slice(0, 32)} request cannot be given to a web Request: ${
        (error as Error).message
      }`,
    );
  }
}

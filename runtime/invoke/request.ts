/** Turns an HTTP request into the `ctx.req` a handler sees. */
import { readBody } from "./body.ts";
import { invalid, PlatformError } from "../errors.ts";
import type { BodyKind, FunctionRequest } from "../sandbox/protocol.ts";

/** Request headers a handler never sees: hop-by-hop headers and the platform's own `x-platform-*`. */
const INTERNAL_HEADERS = [
  "connection",
  "keep-alive",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];
const INTERNAL_PREFIX = "x-platform-";

/** Deepest nesting accepted in a JSON or form body. */
const MAX_JSON_DEPTH = 64;

/** Most parameters a query string or form body may hold; past it the request is refused. */
export const MAX_PARAMS = 1000;

/**
 * `URLSearchParams` as an object; repeated keys become arrays (appended in place, so linear in the
 * count). Safe for keys like `__proto__`. Throws 400 past MAX_PARAMS parameters.
 */
function paramsToObject(params: URLSearchParams, what: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  let count = 0;
  for (const [key, value] of params) {
    if (++count > MAX_PARAMS) throw invalid(`the ${what} has more than ${MAX_PARAMS} parameters`);
    const existing = out[key];
    if (existing === undefined) out[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else out[key] = [existing, value];
  }
  return out;
}

/** Largest total size of the request headers a function receives, in bytes (32 KB). */
export const MAX_HEADER_BYTES = 32 * 1024;

function headersOf(request: Request): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  let size = 0;
  for (const [name, value] of request.headers) {
    size += name.length + value.length + 4;
    if (INTERNAL_HEADERS.includes(name) || name.startsWith(INTERNAL_PREFIX)) continue;
    out[name] = value;
  }
  if (size > MAX_HEADER_BYTES) {
    throw new PlatformError(
      "headers-too-large",
      `the request headers are ${size} bytes, over the limit of ${MAX_HEADER_BYTES} bytes`,
    );
  }
  return out;
}

function depthOf(value: unknown): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== "object" || item === null) continue;
    if (depth > deepest) deepest = depth;
    if (deepest > MAX_JSON_DEPTH) return deepest;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return deepest;
}

function parseBody(bytes: Uint8Array, contentType: string): BodyKind {
  if (bytes.length === 0) return { type: "none" };
  const mime = contentType.split(";")[0]!.trim().toLowerCase();
  const isJson = mime === "application/json" || mime.endsWith("+json");
  const isText = mime.startsWith("text/");
  const isForm = mime === "application/x-www-form-urlencoded";
  if (!isJson && !isText && !isForm) return { type: "bytes" };
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw invalid(`the request body is not valid UTF-8 (content-type ${mime})`);
  }
  if (isText) return { type: "value", value: text };
  if (isForm) {
    return { type: "value", value: paramsToObject(new URLSearchParams(text), "form body") };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw invalid(`the request body is not valid JSON: ${(error as Error).message}`);
  }
  if (depthOf(value) > MAX_JSON_DEPTH) {
    throw invalid(`the JSON body is nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  return { type: "value", value };
}

/** `ctx.req` with how its body travels: a parsed value, or raw bytes beside the message. */
export interface IncomingCall {
  req: FunctionRequest;
  body: BodyKind;
  bytes?: Uint8Array | undefined;
}

/** Builds `ctx.req`; `path` is the function path (`/functions/...`). Throws 400/413 for bad bodies. */
export async function toFunctionRequest(
  request: Request,
  path: string,
  params: Record<string, string>,
  maxBodyBytes: number,
): Promise<IncomingCall> {
  const url = new URL(request.url);
  const headers = headersOf(request);
  const hasBody = request.method !== "GET" && request.method !== "HEAD";
  const bytes = hasBody ? await readBody(request, maxBodyBytes) : new Uint8Array(0);
  const body = parseBody(bytes, request.headers.get("content-type") ?? "");
  return {
    req: {
      method: request.method,
      path,
      query: paramsToObject(url.searchParams, "query string"),
      headers,
      params,
    },
    body,
    bytes: body.type === "bytes" ? bytes : undefined,
  };
}

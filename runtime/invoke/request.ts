/**
 * Turns an HTTP request into what the host sends a sandbox: the routing results, the raw query
 * string, the header pairs a function may see and the body's bytes. The host only counts and
 * polices here (sizes, platform headers and keys); parsing happens in the sandbox.
 */
import { readBody } from "./body.ts";
import { PlatformError } from "../errors.ts";
import { withoutPlatformKeys } from "../auth/keys.ts";
import { MAX_QUERY_BYTES, type WireRequest } from "../sandbox/protocol.ts";

/** Request headers a handler never sees: hop-by-hop headers and the platform's own `x-platform-*`. */
const INTERNAL_HEADERS = new Set([
  "connection",
  "keep-alive",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);
const INTERNAL_PREFIX = "x-platform-";

/** Largest total size of the request headers a function receives, in bytes (32 KB). */
export const MAX_HEADER_BYTES = 32 * 1024;

/** Headers that say who the client is: set by the host, from a trusted proxy or the connection. */
const CLIENT_HEADERS = new Set(["x-forwarded-for", "x-real-ip", "forwarded"]);

/** Who sent a request: the connection's address, and whether a proxy in front is believed. */
export interface ClientAddress {
  /** The connection's remote address, or null for a request that came by no connection. */
  address: string | null;
  /** TRUST_PROXY: keep the proxy's `X-Forwarded-For` (its last entry is the client). */
  trustProxy: boolean;
}

/**
 * The header pairs a function sees; every platform key in them removed, and `X-Forwarded-For` /
 * `X-Real-IP` saying who the client is (see ClientAddress). Throws 431 past the cap.
 */
function headersOf(
  request: Request,
  adminKey: string,
  client: ClientAddress,
): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let size = 0;
  let forwarded: string | null = null;
  for (const [name, value] of request.headers) {
    size += name.length + value.length + 4;
    if (INTERNAL_HEADERS.has(name) || name.startsWith(INTERNAL_PREFIX)) continue;
    if (CLIENT_HEADERS.has(name)) {
      // A client could claim any address in these: only a trusted proxy's list is kept (whose
      // first entries are still the client's own claims; its last is the proxy's).
      if (client.trustProxy && name === "x-forwarded-for") {
        forwarded = withoutPlatformKeys(value, adminKey);
      }
      continue;
    }
    out.push([name, withoutPlatformKeys(value, adminKey)]);
  }
  const proxied = forwarded?.split(",").at(-1)?.trim() || null;
  const real = proxied ?? client.address;
  if (real !== null) {
    out.push(["x-forwarded-for", forwarded ?? real], ["x-real-ip", real]);
  }
  if (size > MAX_HEADER_BYTES) {
    throw new PlatformError(
      "headers-too-large",
      `the request headers are ${size} bytes, over the limit of ${MAX_HEADER_BYTES} bytes`,
    );
  }
  return out;
}

/** The raw query string of `url` from its `?` at `start` (none: -1); throws 414 past MAX_QUERY_BYTES. */
function queryOf(url: string, start: number): string {
  if (start < 0) return "";
  const query = url.slice(start + 1);
  if (query.length > MAX_QUERY_BYTES) {
    throw new PlatformError(
      "uri-too-long",
      `the query string is ${query.length} bytes, over the limit of ${MAX_QUERY_BYTES} bytes`,
    );
  }
  return query;
}

/**
 * The path and query of `url` from its `/functions` segment on, as the client sent them. On the
 * shared form the `/apps/<app>[/env/<env>]` prefix is the platform's, so an app routes alike
 * on both URL forms. `url` is a function request's (the dispatcher checked its shape): the
 * prefix is found by its slashes, without splitting the path.
 */
function functionUrlOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  if (!url.startsWith("/apps/", start)) return url.slice(start);
  let end = url.indexOf("/", start + "/apps/".length);
  if (url.startsWith("/env/", end)) end = url.indexOf("/", end + "/env/".length);
  return url.slice(end);
}

/** A request as it crosses into the sandbox, with its raw body. */
export interface IncomingCall {
  req: WireRequest;
  bytes?: Uint8Array | undefined;
}

/**
 * Builds the wire request; `path` is the function path (`/functions/...`). Throws 408, 413, 414,
 * 431, 499 or 400 (see readBody) for what the host refuses.
 */
export async function toWireRequest(
  request: Request,
  path: string,
  params: Record<string, string>,
  maxBodyBytes: number,
  adminKey: string,
  bodyIdleMs: number,
  client: ClientAddress,
  hold?: (bytes: number) => void,
  totalMs?: number,
): Promise<IncomingCall> {
  const headers = headersOf(request, adminKey, client);
  const { url } = request;
  const search = url.indexOf("?");
  const query = queryOf(url, search);
  const { method } = request;
  const hasBody = method !== "GET" && method !== "HEAD" && request.body !== null;
  const bytes = hasBody
    ? await readBody(request, maxBodyBytes, bodyIdleMs, hold, totalMs)
    : undefined;
  const req: WireRequest = {
    method,
    path,
    url: functionUrlOf(url),
    params,
    query,
    headers,
  };
  if (method === "HEAD") req.head = true;
  return { req, bytes: bytes && bytes.length > 0 ? bytes : undefined };
}

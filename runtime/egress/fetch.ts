/**
 * A function's outbound `fetch`, performed by the host: the sandbox has no network permission.
 * Each hop (redirects included, followed here, at most 5) must resolve only to public
 * addresses and must not be one of the platform's own services; credential rules add headers
 * whose values come from the app's secrets, so a secret never enters the sandbox.
 */
import { lookup } from "node:dns/promises";
import type { WireFetchRequest, WireFetchResponse } from "../sandbox/protocol.ts";
import { blockedReason, isIpLiteral, isLoopback } from "./address.ts";

/**
 * An outbound credential rule: requests to exactly `origin` get `headers`, `{NAME}` replaced by
 * the app's secret NAME.
 */
export interface EgressRule {
  /** `scheme://host:port`, lower-case, the port always written (https by default). */
  origin: string;
  headers: Record<string, string>;
  /** Lets this exact origin reach a private or loopback address (an internal data API). */
  allowPrivate?: boolean;
}

/** An outbound request the platform refuses; its message reaches the handler. */
export class EgressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EgressError";
  }
}

/** Settings of the egress proxy. */
export interface EgressOptions {
  rules: EgressRule[];
  /** `host` or `host:port` of the platform's own services (Redis, the API), always refused. */
  blockedHosts: string[];
  /**
   * Ports the platform listens on (the API, Redis); a fetch to one of them at an address of
   * this machine is refused, whatever name reached it. Read on each fetch.
   */
  ownPorts: () => Iterable<number>;
  /** Largest response body passed back to a function, in bytes. */
  maxResponseBytes: number;
  /** Resolves a host name to addresses; the default uses the system resolver, like fetch. */
  resolve?: (hostname: string) => Promise<string[]>;
}

/** `{NAME}` in a rule's header value: the app variable NAME goes there. */
const SECRET_PLACEHOLDER = /\{([A-Z_][A-Z0-9_]*)\}/g;

/** The variable names the rules insert into headers: only the proxy may see those. */
export function secretNames(rules: EgressRule[]): Set<string> {
  const names = new Set<string>();
  for (const rule of rules) {
    for (const template of Object.values(rule.headers)) {
      for (const [, name] of template.matchAll(SECRET_PLACEHOLDER)) names.add(name!);
    }
  }
  return names;
}

/** `hostname:port` of a URL (IPv6 without brackets), with the scheme's port when none is given. */
export function hostPort(url: URL): string {
  const hostname = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return `${hostname}:${portOf(url)}`;
}

/** The port of a URL, the scheme's default when none is written. */
function portOf(url: URL): string {
  return url.port || (url.protocol === "https:" ? "443" : "80");
}

/** `scheme://host:port` of a URL, the port always written: what a rule's origin is matched to. */
export function originOf(url: URL): string {
  return `${url.protocol}//${url.hostname.toLowerCase()}:${portOf(url)}`;
}

/**
 * Request headers that follow a redirect to another origin; the rest (authorization, cookies,
 * API keys under any name) stay with the origin they were meant for.
 */
const CROSS_ORIGIN_SAFE = new Set([
  "accept",
  "accept-language",
  "cache-control",
  "content-language",
  "content-type",
  "pragma",
  "user-agent",
]);

/** The addresses of this machine: a fetch to one of them on a platform port is refused. */
function localAddresses(): Set<string> {
  const out = new Set(["127.0.0.1", "::1", "0.0.0.0", "::"]);
  try {
    for (const iface of Deno.networkInterfaces()) out.add(iface.address.toLowerCase());
  } catch { /* no sys permission: loopback and unspecified still count */ }
  return out;
}

const MAX_REDIRECTS = 5;
/**
 * Most headers of an outbound request, checked before any is read: above what a client sends
 * (a function may forward a request's headers, which may hold 32 KB, plus its own).
 */
const MAX_FETCH_HEADERS = 128;
/** Most bytes of an outbound request's header names and values, in all (64 KB). */
const MAX_FETCH_HEADER_BYTES = 64 * 1024;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

async function systemResolve(hostname: string): Promise<string[]> {
  return (await lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);
}

/** Performs functions' outbound requests under the egress policy. */
export class Egress {
  readonly #options: EgressOptions;
  readonly #resolve: (hostname: string) => Promise<string[]>;

  constructor(options: EgressOptions) {
    this.#options = options;
    this.#resolve = options.resolve ?? systemResolve;
  }

  /**
   * Fetches for a function; throws EgressError when policy refuses a hop. `body` is the
   * request body's bytes; the answer carries the response's head and its body as a stream, read
   * only as fast as the function reads it, and `streamLimit` (`maxResponseBytes`), past which the
   * reader cuts it.
   */
  async fetch(
    request: WireFetchRequest,
    requestBody: Uint8Array | ReadableStream<Uint8Array> | undefined,
    secrets: Record<string, string>,
    signal: AbortSignal,
  ): Promise<{
    value: WireFetchResponse;
    stream?: ReadableStream<Uint8Array> | undefined;
    streamLimit?: number;
  }> {
    let url = parseUrl(request.url);
    let method = request.method.toUpperCase();
    const streamed = requestBody instanceof ReadableStream;
    let body: Uint8Array | ReadableStream<Uint8Array> | null = !request.hasBody
      ? null
      : streamed
      ? requestBody.pipeThrough(
        limitBytes(MAX_REQUEST_BODY_BYTES, "fetch: the streamed request body is over the limit"),
      )
      : requestBody ?? new Uint8Array(0);
    if (body instanceof Uint8Array && body.length > MAX_REQUEST_BODY_BYTES) {
      throw new EgressError(
        `fetch: the request body is ${body.length} bytes, over the limit of ` +
          `${MAX_REQUEST_BODY_BYTES} bytes`,
      );
    }
    checkHeaderSize(request.headers);
    const headers = new Headers(request.headers);
    const origin = url.origin;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const rule = await this.#check(url);
      const hopHeaders = new Headers();
      for (const [name, value] of headers) {
        if (url.origin === origin || CROSS_ORIGIN_SAFE.has(name)) hopHeaders.set(name, value);
      }
      for (const [name, template] of Object.entries(rule?.headers ?? {})) {
        try {
          hopHeaders.set(name, fillSecrets(template, secrets, rule!.origin));
        } catch (error) {
          if (error instanceof EgressError) throw error;
          // The header's error would quote the value, which holds the withheld secret.
          throw new EgressError(
            `fetch to ${
              rule!.origin
            }: the credential rule's ${name} header is not a valid header ` +
              "value once its secrets are filled in (a secret holds a line break or a control " +
              "character); fix the variable",
          );
        }
      }
      const response = await fetch(url, {
        method,
        headers: hopHeaders,
        body,
        redirect: "manual",
        signal,
        // A streamed body goes out as it is produced (Deno needs half duplex said).
        ...(streamed && body ? { duplex: "half" } : {}),
      } as RequestInit);
      const location = response.headers.get("location");
      if (REDIRECTS.has(response.status) && location && request.redirect !== "manual") {
        if (request.redirect === "error") {
          await response.body?.cancel();
          throw new EgressError(`fetch ${request.url}: redirected, and redirect is "error"`);
        }
        await response.body?.cancel();
        if (streamed && body && (response.status === 307 || response.status === 308)) {
          throw new EgressError(
            `fetch ${request.url}: a ${response.status} redirect would send the streamed request ` +
              "body again, which cannot be done (browsers refuse it too); buffer the body to follow it",
          );
        }
        url = parseUrl(new URL(location, url).href);
        if (response.status === 303 || (response.status < 307 && method === "POST")) {
          method = "GET";
          if (body instanceof ReadableStream) await body.cancel().catch(() => {});
          body = null;
          headers.delete("content-type");
        }
        continue;
      }
      return {
        value: {
          url: url.href,
          status: response.status,
          statusText: response.statusText,
          headers: [...response.headers],
          hasBody: response.body !== null,
          redirected: hop > 0,
        },
        // Counted against the limit where it is read (the sandbox's pump), not through another
        // stream layer.
        stream: response.body ?? undefined,
        streamLimit: this.#options.maxResponseBytes,
      };
    }
    throw new EgressError(`fetch ${request.url}: more than ${MAX_REDIRECTS} redirects`);
  }

  /** Refuses URLs that reach the platform or a non-public address; returns the matching rule. */
  async #check(url: URL): Promise<EgressRule | undefined> {
    const target = hostPort(url);
    const hostname = target.slice(0, target.lastIndexOf(":"));
    if (this.#options.blockedHosts.some((h) => h === hostname || h === target)) {
      throw new EgressError(
        `fetch to ${url.host} refused: it is one of the platform's own services`,
      );
    }
    const origin = originOf(url);
    const rule = this.#options.rules.find((r) => r.origin === origin);
    if (!rule?.allowPrivate && (hostname === "localhost" || hostname.endsWith(".localhost"))) {
      throw new EgressError(`fetch to ${url.host} refused: loopback addresses are not reachable`);
    }
    const literal = isIpLiteral(hostname);
    let addresses: string[];
    try {
      addresses = literal ? [hostname] : await this.#resolve(hostname);
    } catch {
      throw new EgressError(`fetch to ${url.host} failed: the host name could not be resolved`);
    }
    if (addresses.length === 0) {
      throw new EgressError(`fetch to ${url.host} failed: the host name has no address`);
    }
    const port = Number(portOf(url));
    const ownPort = [...this.#options.ownPorts()].includes(port);
    const local = ownPort ? localAddresses() : null;
    for (const address of addresses) {
      if (local && (local.has(address.toLowerCase()) || isLoopback(address))) {
        throw new EgressError(
          `fetch to ${url.host} refused: ${address} port ${port} is one of the platform's own services`,
        );
      }
      if (rule?.allowPrivate) continue;
      const reason = blockedReason(address);
      if (reason) {
        const what = literal ? `${address} is` : `it resolves to ${address},`;
        throw new EgressError(
          `fetch to ${url.host} refused: ${what} ${reason}, which functions cannot reach`,
        );
      }
    }
    return rule;
  }
}

/**
 * Refuses a request with more than MAX_FETCH_HEADERS headers or MAX_FETCH_HEADER_BYTES of them,
 * before Deno's `Headers` takes them: building and copying one costs the square of its count.
 */
function checkHeaderSize(pairs: ReadonlyArray<[string, string]>): void {
  if (pairs.length > MAX_FETCH_HEADERS) {
    throw new EgressError(
      `fetch: the request has ${pairs.length} headers, over the limit of ${MAX_FETCH_HEADERS}`,
    );
  }
  let bytes = 0;
  for (const [name, value] of pairs) bytes += name.length + value.length;
  if (bytes > MAX_FETCH_HEADER_BYTES) {
    throw new EgressError(
      `fetch: the request's headers are ${bytes} bytes, over the limit of ` +
        `${MAX_FETCH_HEADER_BYTES} bytes`,
    );
  }
}

/** Largest streamed request body of an outbound fetch, in bytes (10 MB, as a buffered one). */
const MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024;

/** Passes a body through until it passes `limit` bytes, then errors it with `message`. */
function limitBytes(limit: number, message: string): TransformStream<Uint8Array, Uint8Array> {
  let total = 0;
  return new TransformStream({
    transform(chunk, controller) {
      total += chunk.length;
      if (total > limit) controller.error(new EgressError(`${message} of ${limit} bytes`));
      else controller.enqueue(chunk);
    },
  });
}

function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new EgressError(`fetch: invalid URL ${JSON.stringify(text)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new EgressError(`fetch: only http: and https: URLs can be fetched, not ${url.protocol}`);
  }
  return url;
}

function fillSecrets(template: string, secrets: Record<string, string>, host: string): string {
  return template.replace(SECRET_PLACEHOLDER, (_: string, name: string) => {
    if (!Object.hasOwn(secrets, name)) {
      throw new EgressError(
        `fetch to ${host}: the platform's credential rule needs the secret ${name}, which this app has not set`,
      );
    }
    return secrets[name]!;
  });
}

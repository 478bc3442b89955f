/**
 * The types of a handler's world: `ctx` and what a handler returns. The one source of truth:
 * the sandbox builds `ctx` against these, `GET /v1/types.d.ts` serves this file, and `fn init`
 * writes it into new projects. It imports nothing, so it can be copied anywhere.
 *
 * @example
 * ```ts
 * import type { Handler } from "./fn.d.ts";
 * const handler: Handler = async (ctx) => ({ status: 201, body: { hi: ctx.req.query.who } });
 * export default handler;
 * ```
 *
 * The other shapes a route file may take (README "Coming from another platform"):
 * ```ts
 * import type { MethodHandler, WorkersModule } from "./fn.d.ts";
 * export default { fetch: (request, env, ctx) => new Response("hi") } satisfies WorkersModule;
 * // or, instead of a default export, one handler per method:
 * export const GET: MethodHandler = (request, ctx) => Response.json({ id: ctx.params.id });
 * ```
 */

/** `ctx.req`: the request as the handler sees it. */
export interface FunctionRequest {
  /** The HTTP method, or `SCHEDULED` for a cron run. */
  method: string;
  /** The function path, `/functions/...`. */
  path: string;
  /** URL query parameters; a repeated key becomes an array. */
  query: Record<string, string | string[]>;
  /** Request headers, lower-cased, minus hop-by-hop and platform headers. */
  headers: Record<string, string>;
  /** Route parameters (`[id]`, `[...rest]`). */
  params: Record<string, string>;
  /** JSON parsed, text as a string, a form as an object, other bytes as Uint8Array. */
  body: unknown;
  /** The body's bytes exactly as received (empty when there is none): what signatures cover. */
  rawBody: Uint8Array<ArrayBuffer>;
}

/** A streamed body: strings or bytes, sent as produced. */
export type StreamBody = ReadableStream<Uint8Array | string> | AsyncIterable<Uint8Array | string>;

/** What a handler returns (or nothing, for an empty 200). */
export interface FunctionResponse {
  /** An integer from 200 to 599 (default 200). */
  status?: number;
  /** An object or array is sent as JSON, a string as text, bytes as octet-stream. */
  body?: unknown;
  /**
   * Extra response headers: an object (an array value sends the header once per item, e.g.
   * several `Set-Cookie`), a `Headers`, or `[name, value]` pairs.
   */
  headers?:
    | Record<string, string | number | Array<string | number>>
    | Headers
    | Array<
      [string, string]
    >;
}

/** One page of `kv.list`. */
export interface KvPage {
  keys: string[];
  cursor: string | null;
  done: boolean;
}

/** `ctx.kv`: the app's own key-value store; values are strings. */
export interface Kv {
  get(key: string): Promise<string | null>;
  /** Writes `value`; `ttl` in seconds (default 30 days). */
  set(key: string, value: string, ttl?: number): Promise<void>;
  /** Compare-and-set: writes only if the key holds `ifEquals` (null: is absent); true if written. */
  set(
    key: string,
    value: string,
    options: { ttl?: number; ifEquals: string | null },
  ): Promise<boolean>;
  del(key: string): Promise<void>;
  /** Every key, when there are at most 1,000 (else it rejects: use `list`). */
  keys(): Promise<string[]>;
  /** A page of keys in byte order. */
  list(options?: { prefix?: string; cursor?: string | null; limit?: number }): Promise<KvPage>;
  /** Adds `by` (default 1) to an integer value, atomically; answers the new value. */
  incr(key: string, by?: number): Promise<number>;
  /** Values of up to 100 keys, in order. */
  getMany(keys: string[]): Promise<Array<string | null>>;
}

/** One server-sent event: a string is its data. */
export type SseEvent = string | { data: unknown; event?: string; id?: string; retry?: number };

/** The context every handler receives. */
export interface Ctx {
  req: FunctionRequest;
  /**
   * The same request as a web `Request` (the URL the client called, its headers, the body's
   * bytes as received), built at first use.
   */
  readonly request: Request;
  /** The app's variables for this environment. */
  env: Readonly<Record<string, string>>;
  kv: Kv;
  /** Keeps `promise` running after the response, within the request's time limit. */
  waitUntil(promise: Promise<unknown>): void;
  /** A response streaming `events` as `text/event-stream`. */
  sse(events: AsyncIterable<SseEvent>, init?: { status?: number }): FunctionResponse;
}

/** A route file's default export: it returns the object above or a web `Response`. */
export type Handler = (
  ctx: Ctx,
) => FunctionResponse | Response | void | Promise<FunctionResponse | Response | void>;

/** The platform's context for the web-standard shapes (the Workers third argument). */
export interface PlatformContext {
  /** Keeps `promise` running after the response, within the request's time limit. */
  waitUntil(promise: Promise<unknown>): void;
  /** Does nothing: a function has no origin behind it to fail open to. */
  passThroughOnException(): void;
  kv: Kv;
  /** Route parameters (`[id]`, `[...rest]`). */
  params: Readonly<Record<string, string>>;
}

/** A cron run of a Workers-style module, as its `scheduled` receives it. */
export interface ScheduledEvent {
  type: "scheduled";
  /** The `cron` of the route file's `schedule` export. */
  cron: string;
  /** When the run was due, in ms since the epoch. */
  scheduledTime: number;
  /** Does nothing: the platform never retries a run. */
  noRetry(): void;
}

/**
 * A route file's default export as a Workers module (also a Hono or itty app). `request` is the
 * URL the client called, its body unparsed; `env` holds the app's variables.
 */
export interface WorkersModule {
  fetch(
    request: Request,
    env: Readonly<Record<string, string>>,
    ctx: PlatformContext,
  ): Response | Promise<Response>;
  /** Runs on the route file's `schedule` export (required when there is one). */
  scheduled?(
    event: ScheduledEvent,
    env: Readonly<Record<string, string>>,
    ctx: PlatformContext,
  ): unknown;
}

/** The second argument of a method handler. */
export interface MethodContext {
  /** Route parameters (`[id]`, `[...rest]`); also awaitable, as in Next 15. */
  params: Readonly<Record<string, string>>;
  /** The app's variables for this environment. */
  env: Readonly<Record<string, string>>;
  kv: Kv;
  waitUntil(promise: Promise<unknown>): void;
}

/**
 * A named export `GET`, `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE` or `OPTIONS`, in place of a
 * default export. HEAD falls back to GET; OPTIONS with none answers 204 with `Allow`; another
 * method answers 405 with `Allow`.
 */
export type MethodHandler = (
  request: Request,
  ctx: MethodContext,
) => Response | Promise<Response>;

/** A route file's optional `schedule` export: run the handler on a cron schedule too. */
export interface Schedule {
  cron: string;
  timezone?: string;
  environments?: string[];
}

/**
 * The one wire protocol between the host and a sandbox process. Every message is a small JSON
 * header plus optional raw bytes (a request or response body, a fetch body). Host and child
 * both import this file; it imports only the handler types (ctx.ts).
 */
/**
 * A request as the host sends it: only what the host had to read to route and police it. The
 * sandbox builds `ctx.req` from it (parsing the query string and the body), so work whose cost a
 * client controls is paid by the app's own capped process, not the shared host.
 */
export interface WireRequest {
  method: string;
  /** The function path, `/functions/...`. */
  path: string;
  /**
   * The URL's path and query as the client sent them, from `/functions` on (`/functions/a?b=1`),
   * still percent-encoded: with the Host header it makes a web `Request`'s URL.
   */
  url: string;
  /** Route parameters, decoded by the host's router. */
  params: Record<string, string>;
  /** The raw query string, without its `?` (at most MAX_QUERY_BYTES). */
  query: string;
  /** Lower-cased header pairs, minus hop-by-hop and platform headers (at most 32 KB in all). */
  headers: Array<[string, string]>;
  /** The body's bytes travel as the frame's body; HEAD runs the handler but sends no body back. */
  head?: boolean;
}

/** Longest query string the host accepts, in bytes (32 KB); past it the request is refused. */
export const MAX_QUERY_BYTES = 32 * 1024;
/** Most parameters a query string or form body may hold; the sandbox refuses more with 400. */
export const MAX_PARAMS = 1000;
/** Deepest nesting the sandbox accepts in a JSON body. */
export const MAX_JSON_DEPTH = 64;

/** What a handler answered, validated in the sandbox; the body bytes travel beside it. */
export interface FunctionResult {
  status: number;
  /** Header pairs in order; a name may repeat (several `Set-Cookie`). */
  headers: Array<[string, string]>;
  /**
   * `none`: no body; `bytes`: the frame's bytes; `stream`: `chunk` frames follow, then `end`.
   * `contentType` is used if the handler set none; "" adds none (a web `Response` without one).
   */
  body:
    | { type: "none" }
    | { type: "bytes" | "stream"; contentType: string }
    /** The answer to HEAD: no bytes follow; `length` is the body's size when it was known. */
    | { type: "head"; contentType: string; length: number | null };
}

/** Most response headers a function may set. */
export const MAX_RESPONSE_HEADERS = 100;
/** Largest response body a handler may return, in bytes (6 MB). */
export const MAX_RESPONSE_BYTES = 6 * 1024 * 1024;
/** Largest request body the platform can be configured to accept, in bytes (8 MB). */
export const MAX_REQUEST_BYTES_CEILING = 8 * 1024 * 1024;
/** Largest body an outbound fetch may send or receive, in bytes (10 MB). */
const MAX_FETCH_BODY_BYTES = 10 * 1024 * 1024;
/** Largest JSON header of a frame, in bytes: ctx.req (32 KB of headers), env, a KV value (1 MB). */
export const MAX_HEADER_BYTES = 4 * 1024 * 1024;
/**
 * What a frame's JSON header may hold: the protocol's messages nest 5 levels at most (KV values
 * are strings), and the largest honest one, a request with its headers (HTTP allows about 100),
 * holds a few hundred arrays and keys. Parsing arrays and objects costs the host a hundred times
 * what flat text does, so a header past these is a broken frame.
 */
/**
 * Most files of one deployment that may export a schedule; a sandbox reports at most one more
 * (so the host can say the limit was passed, without a frame past HEADER_SHAPE).
 */
export const MAX_SCHEDULES_PER_DEPLOYMENT = 50;

export const HEADER_SHAPE = { depth: 32, containers: 1024, keys: 1024 } as const;
/**
 * Largest frame, in bytes. Every body the platform allows fits by construction: the largest is
 * a fetch body (10 MB) or a response (6 MB), plus a header.
 */
export const MAX_FRAME_BYTES = MAX_FETCH_BODY_BYTES + MAX_HEADER_BYTES;

/** A handler's return value that cannot become an HTTP response. */
export class BadResultError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BadResultError";
  }
}

/**
 * Why an invocation produced no result, in the sandbox: a throw, a bad value, or a request the
 * sandbox could not parse (`bad-request`: malformed JSON, invalid UTF-8, too deep, too many
 * parameters), which is the client's fault and answered 400.
 */
export type FailureKind = "threw" | "bad-result" | "bad-request";

/** A failed invocation, as reported by the sandbox. */
export interface Failure {
  kind: FailureKind;
  message: string;
  stack?: string | undefined;
}

/** Why a deployment's modules could not be loaded in a sandbox. */
export interface LoadFailure {
  /** The route file, or "" when the bundle as a whole failed (see `stack`). */
  file: string;
  message: string;
  /** Stack frames of the error, naming `bundle:` positions for the host to map. */
  stack?: string | undefined;
}

/** Log levels a handler's console can write, lowest first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** One of LOG_LEVELS. */
export type LogLevel = typeof LOG_LEVELS[number];

/** An outbound request as the sandbox sends it; its body travels as the frame's bytes. */
export interface WireFetchRequest {
  url: string;
  method: string;
  headers: Array<[string, string]>;
  hasBody: boolean;
  /**
   * The body is a stream: it follows the call as `fetch-body` frames under the stream window,
   * then `fetch-body-end` (and a redirect that would resend it, 307 or 308, is refused).
   */
  streamed?: boolean;
  redirect: RequestRedirect;
}

/**
 * An outbound response as the sandbox receives it, as soon as its head arrived. With `hasBody`
 * its body follows as it arrives from upstream: `fetch-chunk` frames under the stream window
 * (streams.ts), then `fetch-end`.
 */
export interface WireFetchResponse {
  url: string;
  status: number;
  statusText: string;
  headers: Array<[string, string]>;
  hasBody: boolean;
  redirected: boolean;
}

/**
 * Host → sandbox process. `load` carries `{ modules, sourceMaps }` as JSON bytes. `id` is an
 * invocation's number within its sandbox (1, 2, 3, …, given by the host at `invoke`); every
 * frame about that invocation, either way, carries it.
 */
export type HostMessage =
  | { t: "load"; dep: string }
  | {
    t: "invoke";
    id: number;
    file: string;
    req: WireRequest;
    env: Record<string, string>;
  }
  | { t: "reply"; id: number; cid: number; ok: true; value: unknown }
  | { t: "reply"; id: number; cid: number; ok: false; error: string }
  /** The client read `bytes` more of the request's streamed response (streams.ts). */
  | { t: "credit"; id: number; bytes: number }
  /** The client went away: the request's streamed response is no longer read. */
  | { t: "cancel"; id: number }
  /** A chunk of the body of the fetch answered to call `cid` (its bytes beside). */
  | { t: "fetch-chunk"; id: number; cid: number }
  /** The body of the fetch answered to call `cid` ended, or failed with `error`. */
  | { t: "fetch-end"; id: number; cid: number; error?: string }
  /** The host sent `bytes` more of the streamed request body of fetch call `cid` upstream. */
  | { t: "fetch-body-credit"; id: number; cid: number; bytes: number }
  /** The upstream no longer reads the streamed request body of fetch call `cid`. */
  | { t: "fetch-body-cancel"; id: number; cid: number };

/** Sandbox process → host. */
export type SandboxMessage =
  | { t: "hello"; token: string }
  /** The function runtime is installed and locked down: a spare may take a deployment. */
  | { t: "ready" }
  /** `schedules`: route file → its `schedule` export, as the module gave it (host-checked). */
  | { t: "loaded"; schedules?: unknown }
  | { t: "load-failed"; error: LoadFailure }
  /**
   * `open`: the response streams or the handler left `ctx.waitUntil` work; `chunk`s and `end`
   * (for a stream), then `done` (or `failed`) follow.
   */
  | { t: "result"; id: number; result: FunctionResult; open?: boolean }
  | { t: "chunk"; id: number }
  | { t: "end"; id: number }
  /** The handler read `bytes` more of the body of the fetch answered to call `cid`. */
  | { t: "fetch-credit"; id: number; cid: number; bytes: number }
  /** The handler cancelled the body of the fetch answered to call `cid`. */
  | { t: "fetch-cancel"; id: number; cid: number }
  /** A chunk of the streamed request body of fetch call `cid` (its bytes beside). */
  | { t: "fetch-body"; id: number; cid: number }
  /** The streamed request body of fetch call `cid` ended, or failed with `error`. */
  | { t: "fetch-body-end"; id: number; cid: number; error?: string }
  | { t: "done"; id: number }
  | { t: "failed"; id: number; error: Failure }
  | { t: "call"; id: number; cid: number; op: string; args: unknown[] }
  | { t: "log"; id: number | null; level: LogLevel; message: string }
  /** Console lines a sandbox dropped for a request past the per-request bounds, sent before its end. */
  | { t: "log-dropped"; id: number; entries: number; characters: number };

/** A message with the raw bytes that travel beside it. */
export interface Envelope<M> {
  header: M;
  body?: Uint8Array | undefined;
}

/** Most entries one request may write; past it one entry says how much was dropped. */
export const MAX_ENTRIES_PER_REQUEST = 1000;
/** Most bytes of log text one request may write (256 KB). */
export const MAX_BYTES_PER_REQUEST = 256 * 1024;

/**
 * One request's console output counted against the per-request bounds. The sandbox keeps one
 * per request so a flood never crosses to the host; the host keeps one too, as the authority.
 */
export class LogBudget {
  entries = 0;
  characters = 0;
  dropped = 0;
  droppedCharacters = 0;

  /** Whether a line of `length` characters fits; a line that does not is counted as dropped. */
  admit(length: number): boolean {
    if (
      this.entries >= MAX_ENTRIES_PER_REQUEST || this.characters + length > MAX_BYTES_PER_REQUEST
    ) {
      this.dropped++;
      this.droppedCharacters += length;
      return false;
    }
    this.entries++;
    this.characters += length;
    return true;
  }
}

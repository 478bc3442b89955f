/**
 * The platform's error model: every error the runtime raises for a caller to see is a
 * `PlatformError` with a `kind`, a user-facing message that says what was wrong and where, and
 * its `cause`. Each kind has one HTTP status, in the one table below (`STATUS`): the HTTP edge
 * (routes/errors.ts) answers with it, and a function's request log records the same figure. Only
 * the edge turns errors into responses and JSON; nothing in the runtime picks a status.
 *
 * @example
 * ```ts
 * throw new PlatformError("not-found", `app "shop" has no deployment dep_123`);
 * throw new PlatformError("limit", "rate limit reached for api/x.ts", { retryAfterSeconds: 2 });
 * ```
 */

/** What went wrong, in the caller's terms. */
export type ErrorKind =
  /** The caller's input is wrong; the message names the field and the rule. */
  | "invalid"
  /** No credentials, or credentials that match nothing. */
  | "unauthorized"
  /** Credentials that may not do this. */
  | "forbidden"
  /** The app, deployment, function, key or variable does not exist. */
  | "not-found"
  /** A body or a stored quantity is over its size limit. */
  | "too-large"
  /** The request headers are over their size limit. */
  | "headers-too-large"
  /** The URL's query string is over its size limit. */
  | "uri-too-long"
  /** The client stopped sending its request body before it was complete. */
  | "request-timeout"
  /** The client went away before the answer; nobody receives it, the log records it. */
  | "client-closed"
  /** A rate limit: retry later (`retryAfterSeconds`). */
  | "limit"
  /** The function threw, returned what cannot be sent, or its deployment failed to load. */
  | "function-failed"
  /** The function's sandbox died under it (a memory limit, a crash). */
  | "function-crashed"
  /** The function ran past its time limit. */
  | "timeout"
  /** A part of the platform (Redis, a sandbox) cannot serve now; retrying may work. */
  | "unavailable";

/** The HTTP status of each error kind: the one place where a kind becomes a status. */
export const STATUS: Readonly<Record<ErrorKind, number>> = {
  "invalid": 400,
  "unauthorized": 401,
  "forbidden": 403,
  "not-found": 404,
  "too-large": 413,
  "limit": 429,
  "request-timeout": 408,
  "uri-too-long": 414,
  "headers-too-large": 431,
  "client-closed": 499,
  "function-failed": 500,
  "function-crashed": 502,
  "unavailable": 503,
  "timeout": 504,
};

/** The status a caller is answered for `error`: its kind's, or 500 for the platform's own bugs. */
export function statusOf(error: unknown): number {
  return error instanceof PlatformError ? STATUS[error.kind] : 500;
}

/** Options of a PlatformError. */
export interface PlatformErrorOptions {
  /** Extra JSON fields sent beside `error`, e.g. compile diagnostics. */
  details?: Record<string, unknown> | undefined;
  /** When the caller may retry, in seconds. */
  retryAfterSeconds?: number | undefined;
  /** Metadata the edge passes on as response headers (a function's `Server-Timing`). */
  headers?: Record<string, string> | undefined;
  /** The error this one reports. */
  cause?: unknown;
}

/** An error for the caller: its kind, a message that says what was wrong, and its cause. */
export class PlatformError extends Error {
  /** What went wrong; the HTTP edge picks the status from it. */
  readonly kind: ErrorKind;
  /** Extra JSON fields sent beside `error`. */
  readonly details: Record<string, unknown>;
  /** When the caller may retry, in seconds, if it may. */
  readonly retryAfterSeconds: number | undefined;
  /** Response metadata to pass on (e.g. `server-timing`); mutable until the error is answered. */
  readonly headers: Record<string, string>;

  constructor(kind: ErrorKind, message: string, options: PlatformErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "PlatformError";
    this.kind = kind;
    this.details = options.details ?? {};
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.headers = options.headers ?? {};
  }
}

/** The caller's input is wrong; `message` says what and where. */
export function invalid(message: string, details?: Record<string, unknown>): PlatformError {
  return new PlatformError("invalid", message, { details });
}

/** The app, deployment or function does not exist. */
export function notFound(message: string): PlatformError {
  return new PlatformError("not-found", message);
}

/** Whether `error` says a part the platform depends on (its store) cannot be reached now. */
export function isUnavailable(error: unknown): boolean {
  return error instanceof PlatformError && error.kind === "unavailable";
}

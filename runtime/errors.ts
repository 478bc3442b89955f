/** A user-facing error carrying its HTTP status; turned into JSON in one place (the app's onError). */
export class HttpError extends Error {
  /** HTTP status to answer with (4xx for the caller's mistakes, 5xx for ours or the function's). */
  readonly status: number;
  /** Extra JSON fields sent beside `error`, e.g. compile diagnostics. */
  readonly details: Record<string, unknown>;
  /** Extra response headers, e.g. `retry-after` on a 503. */
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    message: string,
    details: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.details = details;
    this.headers = headers;
  }
}

/** 400: the request is malformed; `message` says what and where. */
export function badRequest(message: string, details?: Record<string, unknown>): HttpError {
  return new HttpError(400, message, details);
}

/** 404: the app, deployment or function does not exist. */
export function notFound(message: string): HttpError {
  return new HttpError(404, message);
}

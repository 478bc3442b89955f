/**
 * The HTTP edge of the error model: the one place where any error becomes a response,
 * `{ "error": … }` JSON with its kind's status (Hono's onError). Errors that are not a
 * PlatformError are the platform's own bugs: logged, and answered 500 without details.
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { PlatformError, STATUS } from "../runtime/errors.ts";
import { REQUEST_ID_HEADER } from "./functions.ts";

/** Answers `error` as JSON with its kind's status; the request id goes back when there is one. */
export function answerError(error: Error, c: Context): Response {
  const requestId = (c.get as (key: string) => string | undefined)("requestId");
  const headers: Record<string, string> = requestId ? { [REQUEST_ID_HEADER]: requestId } : {};
  if (error instanceof PlatformError) {
    if (error.retryAfterSeconds !== undefined) {
      headers["retry-after"] = String(error.retryAfterSeconds);
    }
    return c.json(
      { error: error.message, ...error.details },
      STATUS[error.kind] as ContentfulStatusCode,
      { ...error.headers, ...headers },
    );
  }
  console.error("unexpected error:", error);
  return c.json({ error: "internal server error" }, 500, headers);
}

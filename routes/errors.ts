/**
 * The HTTP edge of the error model: the one place where any error becomes a response,
 * `{ "error": … }` JSON with its kind's status (Hono's onError, and the function dispatcher that
 * runs ahead of Hono). Errors that are not a PlatformError are the platform's own bugs: logged,
 * and answered 500 without details.
 */
import type { Context } from "hono";
import { PlatformError, STATUS } from "../runtime/errors.ts";
import { REQUEST_ID_HEADER } from "../runtime/invoke/response.ts";

/** `error` as a JSON response with its kind's status; `requestId` goes back when there is one. */
export function errorResponse(error: unknown, requestId?: string): Response {
  const headers: Record<string, string> = requestId ? { [REQUEST_ID_HEADER]: requestId } : {};
  if (error instanceof PlatformError) {
    if (error.retryAfterSeconds !== undefined) {
      headers["retry-after"] = String(error.retryAfterSeconds);
    }
    return Response.json({ error: error.message, ...error.details }, {
      status: STATUS[error.kind],
      headers: { ...error.headers, ...headers },
    });
  }
  console.error("unexpected error:", error);
  return Response.json({ error: "internal server error" }, { status: 500, headers });
}

/** Hono's onError: answers `error` as JSON with its kind's status. */
export function answerError(error: Error, c: Context): Response {
  const requestId = (c.get as (key: string) => string | undefined)("requestId");
  return errorResponse(error, requestId);
}

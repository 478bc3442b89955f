/** The /v1 API's bound on query strings, checked before Hono parses one. */
import type { MiddlewareHandler } from "hono";
import { PlatformError } from "../runtime/errors.ts";

/**
 * Longest query string of an API request, in bytes, as for a function's: room for every log
 * filter at its 512 characters, percent-encoded. Hono's parser searches for `=` to the end of the
 * string at each key, so `a&a&…` costs the square of its length (about 2 ms at this bound).
 */
export const MAX_API_QUERY_BYTES = 32 * 1024;

/** Refuses an API request whose query string passes MAX_API_QUERY_BYTES with 414. */
export const boundedQuery: MiddlewareHandler = async (c, next) => {
  const url = c.req.url;
  const at = url.indexOf("?");
  if (at >= 0 && url.length - at - 1 > MAX_API_QUERY_BYTES) {
    throw new PlatformError(
      "uri-too-long",
      `the query string is ${url.length - at - 1} bytes, over the API's limit of ` +
        `${MAX_API_QUERY_BYTES} bytes`,
    );
  }
  await next();
};

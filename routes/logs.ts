/**
 * `GET /v1/apps/:appId/logs` (a page, newest first, at most `limit` entries and MAX_PAGE_BYTES)
 * and `/logs/stream` (a live tail as SSE, whose queue is bounded: runtime/logs/tail.ts).
 */
import { type Context, Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import type { Logs } from "../runtime/logs/logs.ts";
import { matches, MAX_PAGE, MAX_PAGE_BYTES } from "../runtime/logs/query.ts";
import type { LogQuery } from "../runtime/logs/types.ts";
import { LOG_LEVELS, type LogLevel } from "../runtime/sandbox/protocol.ts";
import { defineRoute, type OpenApiRegistry } from "./openapi.ts";
import { appParams } from "./schemas.ts";
import * as bodies from "./responses.ts";
import { TailOverflowError } from "../runtime/logs/tail.ts";

/** Milliseconds between SSE comments that keep idle connections (and proxies) open. */
const KEEPALIVE_MS = 15_000;
/** A client that has not taken an event for this long is stalled and is disconnected, in ms. */
const STALL_MS = 30_000;

const time = (name: string) =>
  z.string().transform((raw, ctx) => {
    const value = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
    if (!Number.isFinite(value)) {
      ctx.addIssue({
        code: "custom",
        message: `${name} must be an ISO 8601 time or epoch milliseconds, got "${raw}"`,
      });
      return z.NEVER;
    }
    return value;
  }).meta({
    anyOf: [{ type: "string", format: "date-time" }, { type: "string", pattern: "^\\d+$" }],
    description: `${name}: ISO 8601 or epoch ms`,
  }).optional();

const text = (name: string) =>
  z.string().min(1, `${name} must be 1 to 512 characters`)
    .max(512, `${name} must be 1 to 512 characters`).optional();

/** The filters of both log endpoints, as URL parameters. */
const logQuery = z.object({
  level: z.string().refine((l) => (LOG_LEVELS as readonly string[]).includes(l), {
    error: (issue) => `level must be one of ${LOG_LEVELS.join(", ")}, got "${issue.input}"`,
  }).meta({ enum: [...LOG_LEVELS], description: "minimum level" }).optional(),
  limit: z.string().refine((raw) => /^\d+$/.test(raw) && +raw >= 1 && +raw <= MAX_PAGE, {
    error: (issue) => `limit must be a whole number from 1 to ${MAX_PAGE}, got "${issue.input}"`,
  }).transform(Number)
    // The document shows the integer a client sends.
    .meta({ type: "integer", minimum: 1, maximum: MAX_PAGE, description: "page size" })
    .optional(),
  cursor: z.string().refine((raw) => /^\d{1,16}-\d{1,10}$/.test(raw), {
    error: (issue) => `cursor is not a cursor from next_cursor: "${issue.input}"`,
  }).meta({ pattern: "^\\d{1,16}-\\d{1,10}$", description: "the next_cursor of a page" })
    .optional(),
  since: time("since"),
  until: time("until"),
  function: text("function"),
  request_id: text("request_id"),
  deployment: text("deployment"),
  environment: text("environment").describe(
    "this environment's entries, and the app's platform lines of no environment",
  ),
  q: text("q"),
});

function toLogQuery(query: z.output<typeof logQuery>): LogQuery {
  const out: LogQuery = { limit: query.limit ?? 100 };
  if (query.level) out.level = query.level as LogLevel;
  if (query.cursor) out.cursor = query.cursor;
  if (query.since !== undefined) out.since = query.since;
  if (query.until !== undefined) out.until = query.until;
  if (query.function !== undefined) out.function = query.function;
  if (query.request_id !== undefined) out.requestId = query.request_id;
  if (query.deployment !== undefined) out.deployment = query.deployment;
  if (query.environment !== undefined) out.environment = query.environment;
  if (query.q !== undefined) out.q = query.q;
  return out;
}

/** The logs router; mount under an authenticated `/v1`. */
export function logRoutes(logs: Logs, registry: OpenApiRegistry): Hono {
  const app = new Hono();
  defineRoute(app, registry, {
    method: "get",
    path: "/apps/:appId/logs",
    summary: "A page of an app's runtime logs, newest first",
    tag: "logs",
    params: appParams,
    query: logQuery,
    responses: {
      200: `entries and next_cursor; a page ends early at ${MAX_PAGE_BYTES} bytes of entries, ` +
        "and next_cursor continues it",
      400: "a bad filter, named",
    },
    returns: bodies.LogPage,
  }, async (c, { params, query }) => {
    return c.json(await logs.query(params.appId, toLogQuery(query)));
  });
  defineRoute(app, registry, {
    method: "get",
    path: "/apps/:appId/logs/stream",
    summary: "Follow an app's runtime logs live (server-sent events)",
    tag: "logs",
    params: appParams,
    query: logQuery.omit({ limit: true, cursor: true }),
    responses: {
      200: "a text/event-stream: `ready` once subscribed, then `log` events; a `closed` event " +
        "ends a tail that fell too far behind (its reader stopped reading)",
      400: "a bad filter, named",
      429: "the app already has 8 live tails open, or the server 256",
    },
    events: bodies.LogEvents,
  }, (c, input) => stream(c, logs, input.params.appId, toLogQuery(input.query)));
  return app;
}

/** The live tail as SSE: entries matching `query`, until the client goes or stalls. */
function stream(c: Context, logs: Logs, appId: string, query: LogQuery): Response {
  const abort = new AbortController();
  c.req.raw.signal.addEventListener("abort", () => abort.abort());
  // Taken before the stream starts, so a tail past its limit is answered 429 as JSON.
  const entries = logs.tail(appId, abort.signal);
  return streamSSE(c, async (stream) => {
    stream.onAbort(() => abort.abort());
    // A write that does not finish means the client stopped reading: let it go.
    const stalling = async (writing: Promise<unknown>) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          writing,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error("stalled")), STALL_MS);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    };
    const write = (event: { id?: string; event: string; data: string }) =>
      stalling(stream.writeSSE(event));
    // Keepalives are held to the same bound: a quiet app's stalled reader is let go too.
    const keepalive = setInterval(() => {
      stalling(stream.write(": keepalive\n\n")).catch(() => abort.abort());
    }, KEEPALIVE_MS);
    try {
      await write({ event: "ready", data: "{}" });
      for await (const entry of entries) {
        if (!matches(entry, query)) continue;
        await write({ id: entry.id, event: "log", data: JSON.stringify(entry) });
      }
    } catch (error) {
      if (!(error instanceof TailOverflowError)) abort.abort();
      else await write({ event: "closed", data: JSON.stringify({ error: error.message }) });
    } finally {
      clearInterval(keepalive);
      // However the tail ended, its place is given back.
      abort.abort();
    }
  });
}

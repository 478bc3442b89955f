/** `GET /v1/apps/:appId/logs` (a page, newest first) and `/logs/stream` (a live tail as SSE). */
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { checkAppId } from "../runtime/ids.ts";
import type { Logs } from "../runtime/logs/logs.ts";
import { matches, parseLogQuery } from "../runtime/logs/query.ts";
import { TailOverflowError } from "../runtime/logs/tail.ts";

/** Milliseconds between SSE comments that keep idle connections (and proxies) open. */
const KEEPALIVE_MS = 15_000;
/** A client that has not taken an event for this long is stalled and is disconnected, in ms. */
const STALL_MS = 30_000;

/** The logs router; mount under an authenticated `/v1`. */
export function logRoutes(logs: Logs): Hono {
  return new Hono()
    .get("/apps/:appId/logs", async (c) => {
      const appId = checkAppId(c.req.param("appId"));
      const query = parseLogQuery(new URL(c.req.url).searchParams);
      await logs.flush();
      return c.json(await logs.store.query(appId, query));
    })
    .get("/apps/:appId/logs/stream", (c) => {
      const appId = checkAppId(c.req.param("appId"));
      const query = parseLogQuery(new URL(c.req.url).searchParams);
      const abort = new AbortController();
      c.req.raw.signal.addEventListener("abort", () => abort.abort());
      return streamSSE(c, async (stream) => {
        stream.onAbort(() => abort.abort());
        const keepalive = setInterval(() => {
          stream.write(": keepalive\n\n").catch(() => abort.abort());
        }, KEEPALIVE_MS);
        // A write that does not finish means the client stopped reading: let it go.
        const write = async (event: { id?: string; event: string; data: string }) => {
          let timer: ReturnType<typeof setTimeout> | undefined;
          try {
            await Promise.race([
              stream.writeSSE(event),
              new Promise<never>((_, reject) => {
                timer = setTimeout(() => reject(new Error("stalled")), STALL_MS);
              }),
            ]);
          } finally {
            clearTimeout(timer);
          }
        };
        try {
          await write({ event: "ready", data: "{}" });
          for await (const entry of logs.store.tail(appId, abort.signal)) {
            if (!matches(entry, query)) continue;
            await write({ id: entry.id, event: "log", data: JSON.stringify(entry) });
          }
        } catch (error) {
          if (!(error instanceof TailOverflowError)) abort.abort();
          else await write({ event: "closed", data: JSON.stringify({ error: error.message }) });
        } finally {
          clearInterval(keepalive);
        }
      });
    });
}

/**
 * The admin KV API, with the same keys, values and limits functions see:
 * `GET /v1/apps/:appId/kv?prefix=&cursor=&limit=` (a page of keys), and
 * `GET/PUT/DELETE /v1/apps/:appId/kv/:key` (PUT `{ "value": "…", "ttl"?: seconds }`).
 */
import { Hono } from "hono";
import { readJson } from "../runtime/body.ts";
import { badRequest, HttpError, notFound } from "../runtime/errors.ts";
import { checkAppId } from "../runtime/ids.ts";
import { KvCallError, runKvCall } from "../runtime/kv/calls.ts";
import type { KvBackend } from "../runtime/kv/types.ts";
import { KvQuotaError, KvTypeError } from "../runtime/kv/types.ts";
import type { AuthEnv } from "./auth.ts";

/** Largest PUT body, in bytes: a 1 MB value even if every character is JSON-escaped. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** Runs a KV call; a refused one is the caller's mistake (400), a full quota 413. */
async function call(kv: KvBackend, appId: string, op: string, args: unknown[]): Promise<unknown> {
  try {
    return await runKvCall(kv, appId, op, args);
  } catch (error) {
    if (error instanceof KvCallError || error instanceof KvTypeError) {
      throw badRequest(error.message);
    }
    if (error instanceof KvQuotaError) throw new HttpError(413, error.message);
    throw error;
  }
}

/** The KV router; mount under an authenticated `/v1`. */
export function kvRoutes(kv: KvBackend): Hono<AuthEnv> {
  return new Hono<AuthEnv>()
    .get("/apps/:appId/kv", async (c) => {
      const appId = checkAppId(c.req.param("appId") ?? "");
      const limit = c.req.query("limit");
      const options = {
        prefix: c.req.query("prefix") ?? "",
        cursor: c.req.query("cursor") ?? null,
        limit: limit === undefined ? undefined : Number(limit),
      };
      return c.json(await call(kv, appId, "list", [options]));
    })
    .get("/apps/:appId/kv/:key", async (c) => {
      const appId = checkAppId(c.req.param("appId") ?? "");
      const key = c.req.param("key");
      const value = await call(kv, appId, "get", [key]);
      if (value === null) throw notFound(`app "${appId}" has no key ${JSON.stringify(key)}`);
      return c.json({ key, value });
    })
    .put("/apps/:appId/kv/:key", async (c) => {
      const appId = checkAppId(c.req.param("appId") ?? "");
      const body = await readJson(c.req.raw, MAX_BODY_BYTES) as Record<string, unknown> | null;
      if (typeof body !== "object" || body === null || !("value" in body)) {
        throw badRequest('the body must be a JSON object like {"value": "...", "ttl": 3600}');
      }
      await call(kv, appId, "set", [c.req.param("key"), body.value, body.ttl]);
      return c.json({ key: c.req.param("key") });
    })
    .delete("/apps/:appId/kv/:key", async (c) => {
      const appId = checkAppId(c.req.param("appId") ?? "");
      await call(kv, appId, "del", [c.req.param("key")]);
      return c.body(null, 204);
    });
}

/**
 * An app's rate limit: `GET /v1/apps/:appId/rate-limit` (404 when none), `PUT` with
 * `{ rps, burst?, functions? }`, `DELETE` to remove it.
 */
import { Hono } from "hono";
import { readJson } from "../runtime/body.ts";
import { notFound } from "../runtime/errors.ts";
import { checkAppId } from "../runtime/ids.ts";
import type { RateLimits } from "../runtime/ratelimit/limits.ts";
import type { AuthEnv } from "./auth.ts";

/** Largest PUT body, in bytes. */
const MAX_BODY_BYTES = 64 * 1024;

/** The rate-limit router; mount under an authenticated `/v1`. */
export function rateLimitRoutes(limits: RateLimits): Hono<AuthEnv> {
  const path = "/apps/:appId/rate-limit";
  return new Hono<AuthEnv>()
    .get(path, async (c) => {
      const appId = checkAppId(c.req.param("appId") ?? "");
      const limit = await limits.get(appId);
      if (!limit) throw notFound(`app "${appId}" has no rate limit`);
      return c.json(limit);
    })
    .put(path, async (c) => {
      const appId = checkAppId(c.req.param("appId") ?? "");
      return c.json(await limits.set(appId, await readJson(c.req.raw, MAX_BODY_BYTES)));
    })
    .delete(path, async (c) => {
      await limits.set(checkAppId(c.req.param("appId") ?? ""), null);
      return c.body(null, 204);
    });
}

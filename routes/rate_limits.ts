/**
 * An app's rate limit: `GET /v1/apps/:appId/rate-limit` (404 when none), `PUT` with
 * `{ rps, burst?, functions? }`, `DELETE` to remove it.
 */
import { Hono } from "hono";
import { z } from "zod";
import { invalid, notFound } from "../runtime/errors.ts";
import { MAX_RPS, type RateLimits } from "../runtime/ratelimit/limits.ts";
import type { AuthEnv } from "./auth.ts";
import { check, defineRoute, type OpenApiRegistry } from "./openapi.ts";
import { appParams, namedRecord } from "./schemas.ts";
import * as bodies from "./responses.ts";

/** Largest PUT body, in bytes. */
const MAX_BODY_BYTES = 64 * 1024;

/** A token bucket; `where` names it in errors (`body`, `functions["api/x.ts"]`). */
function bucket(where: string) {
  return z.object({
    rps: z.number({ error: rpsMessage(where) }).gt(0, rpsMessage(where)).max(
      MAX_RPS,
      rpsMessage(where),
    ),
    burst: z.number({ error: burstMessage(where) }).int(burstMessage(where))
      .min(1, burstMessage(where)).max(MAX_RPS, burstMessage(where)).optional(),
  }, {
    error:
      `${where === "body" ? "the body must be a JSON object" : `${where} must be an object`} ` +
      'like { "rps": 10, "burst": 20 }',
  });
}
const rpsMessage = (where: string) =>
  `${where}.rps must be a number of requests per second above 0, at most ${MAX_RPS}`;
const burstMessage = (where: string) =>
  `${where}.burst must be a whole number from 1 to ${MAX_RPS}`;

const limitBody = bucket("body").extend({
  functions: namedRecord(z.unknown(), {
    shape: () => "functions must be an object of route file → { rps, burst }",
    entry: (file) => `functions[${JSON.stringify(file)}] must be an object like { "rps": 10 }`,
  }).optional(),
});

const withBurst = (b: { rps: number; burst?: number | undefined }) => ({
  rps: b.rps,
  burst: b.burst ?? Math.max(1, Math.ceil(b.rps)),
});

/** The rate-limit router; mount under an authenticated `/v1`. */
export function rateLimitRoutes(limits: RateLimits, registry: OpenApiRegistry): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const path = "/apps/:appId/rate-limit";
  const tag = "rate limits";
  defineRoute(app, registry, {
    method: "get",
    path,
    summary: "An app's rate limit",
    tag,
    params: appParams,
    responses: { 200: "the limit", 404: "the app has none" },
    returns: bodies.RateLimit,
  }, async (c, { params }) => {
    const limit = await limits.get(params.appId);
    if (!limit) throw notFound(`app "${params.appId}" has no rate limit`);
    return c.json(limit);
  });
  defineRoute(app, registry, {
    method: "put",
    path,
    summary: "Set an app's rate limit (and per-function ones)",
    tag,
    params: appParams,
    body: limitBody,
    maxBodyBytes: MAX_BODY_BYTES,
    responses: { 200: "the limit as set", 400: "a malformed limit, the field named" },
    returns: bodies.RateLimit,
  }, async (c, { params, body }) => {
    const functions: Record<string, { rps: number; burst: number }> = {};
    for (const [file, given] of Object.entries(body.functions ?? {})) {
      if (!/^api\/[^\0]{1,500}\.(ts|js)$/.test(file)) {
        throw invalid(`functions: "${file.slice(0, 100)}" is not a route file like "api/x.ts"`);
      }
      functions[file] = withBurst(check(bucket(`functions["${file}"]`), given));
    }
    return c.json(await limits.set(params.appId, { ...withBurst(body), functions }));
  });
  defineRoute(app, registry, {
    method: "delete",
    path,
    summary: "Remove an app's rate limit",
    tag,
    params: appParams,
    responses: { 204: "removed" },
  }, async (c, { params }) => {
    await limits.set(params.appId, null);
    return c.body(null, 204);
  });
  return app;
}

/**
 * Metrics: `GET /metrics` (Prometheus text, admin key only) and
 * `GET /v1/apps/:appId/metrics?minutes=60` (per-minute requests, errors, p50 and p99 for the
 * app and each function, over the last hour, or up to a day).
 */
import { Hono } from "hono";
import { z } from "zod";
import type { ApiKeys } from "../runtime/auth/keys.ts";
import type { Metrics } from "../runtime/metrics/metrics.ts";
import { WINDOW_MINUTES } from "../runtime/metrics/series.ts";
import { authenticate, type AuthEnv, requireAdmin } from "./auth.ts";
import { defineRoute, type OpenApiRegistry } from "./openapi.ts";
import { appParams, pageLimit } from "./schemas.ts";

/** The Prometheus endpoint; mount at the root (it is not under `/v1`). */
export function prometheusRoute(metrics: Metrics, keys: ApiKeys): Hono<AuthEnv> {
  return new Hono<AuthEnv>()
    .use("/metrics", authenticate(keys), requireAdmin("read /metrics"))
    .get(
      "/metrics",
      async (c) => c.body(await metrics.text(), 200, { "content-type": metrics.contentType }),
    );
}

/** The time-series router; mount under an authenticated `/v1`. */
export function metricRoutes(metrics: Metrics, registry: OpenApiRegistry): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  defineRoute(
    app,
    registry,
    {
      method: "get",
      path: "/apps/:appId/metrics",
      summary: "Per-minute requests, errors and latency of an app and each function",
      tag: "metrics",
      params: appParams,
      query: z.object({ minutes: pageLimit(WINDOW_MINUTES, "minutes") }),
      responses: { 200: "the app's minutes and each function's", 400: "a bad window" },
    },
    async (c, { params, query }) =>
      c.json(await metrics.series.query(params.appId, query.minutes ?? 60)),
  );
  return app;
}

/**
 * Metrics: `GET /metrics` (Prometheus text, admin key only) and
 * `GET /v1/apps/:appId/metrics?minutes=60&step=1` (requests, errors, p50 and p99 of the app and
 * of its busiest functions, over the last hour or up to a day, one point per `step` minutes).
 */
import { Hono } from "hono";
import { z } from "zod";
import type { ApiKeys } from "../runtime/auth/keys.ts";
import type { Metrics } from "../runtime/metrics/metrics.ts";
import { invalid } from "../runtime/errors.ts";
import {
  defaultStep,
  MAX_POINTS_PER_SERIES,
  MAX_SERIES_PER_RESPONSE,
  WINDOW_MINUTES,
} from "../runtime/metrics/series.ts";
import { authenticate, type AuthEnv, requireAdmin } from "./auth.ts";
import { defineRoute, type OpenApiRegistry } from "./openapi.ts";
import { appParams, pageLimit } from "./schemas.ts";
import * as bodies from "./responses.ts";

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
      summary: "Requests, errors and latency of an app and its busiest functions, per step",
      tag: "metrics",
      params: appParams,
      query: z.object({
        minutes: pageLimit(
          WINDOW_MINUTES,
          "minutes",
          `the window, 1 to ${WINDOW_MINUTES} minutes (default 60)`,
        ),
        step: pageLimit(
          WINDOW_MINUTES,
          "step",
          `minutes per point (default: minutes / 120, rounded up); at most ` +
            `${MAX_POINTS_PER_SERIES} points a series`,
        ),
      }),
      responses: {
        200: `step_minutes, the app's points, those of its ${MAX_SERIES_PER_RESPONSE} busiest ` +
          "functions with requests in the window, and functions_omitted (the others)",
        400: "a bad window or step",
      },
      returns: bodies.MetricsSeries,
    },
    async (c, { params, query }) => {
      const minutes = query.minutes ?? 60;
      const step = query.step ?? defaultStep(minutes);
      if (Math.ceil(minutes / step) > MAX_POINTS_PER_SERIES) {
        throw invalid(
          `step must be at least ${Math.ceil(minutes / MAX_POINTS_PER_SERIES)} for ` +
            `minutes=${minutes}: a series holds at most ${MAX_POINTS_PER_SERIES} points`,
        );
      }
      const page = await metrics.series.query(params.appId, { minutes, step });
      return c.json({ ...page, shared: metrics.series.shared });
    },
  );
  return app;
}

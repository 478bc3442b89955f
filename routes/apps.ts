/**
 * `GET /v1/apps`: every app with a live deployment (a per-app key sees only its own), with each
 * environment's live deployment, the last deploy, and requests and errors in the last hour.
 */
import { Hono } from "hono";
import { z } from "zod";
import type { Metrics } from "../runtime/metrics/metrics.ts";
import type { PlatformStore } from "../runtime/store/types.ts";
import type { AuthEnv } from "./auth.ts";
import { defineRoute, type OpenApiRegistry } from "./openapi.ts";
import { appId, pageLimit } from "./schemas.ts";
import * as bodies from "./responses.ts";

const PAGE = { default: 20, max: 100 };

/** The apps router; mount under an authenticated `/v1`. */
export function appRoutes(
  store: PlatformStore,
  metrics: Metrics,
  registry: OpenApiRegistry,
): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  defineRoute(app, registry, {
    method: "get",
    path: "/apps",
    summary: "Apps with their environments, live deployments and last hour's requests",
    tag: "apps",
    query: z.object({ cursor: appId.optional(), limit: pageLimit(PAGE.max) }),
    responses: { 200: "a page of apps and next_cursor" },
    returns: bodies.AppPage,
  }, async (c, { query }) => {
    const principal = c.get("principal");
    const page = principal.kind === "app"
      ? { apps: [principal.appId], next: null }
      : await store.listApps({ after: query.cursor, limit: query.limit ?? PAGE.default });
    const apps = await Promise.all(page.apps.map(async (id) => {
      const [live, latest] = await Promise.all([
        store.liveOf(id),
        store.list(id, { limit: 1 }),
      ]);
      const hour = (await metrics.series.query(id, { minutes: 60, step: 60 })).app;
      return {
        id,
        environments: Object.entries(live).map(([name, deployment]) => ({
          name,
          live_deployment: deployment,
        })).sort((a, b) => a.name.localeCompare(b.name)),
        last_deploy_at: latest.deployments[0]?.createdAt ?? null,
        requests_last_hour: hour.reduce((n, m) => n + m.requests, 0),
        errors_last_hour: hour.reduce((n, m) => n + m.errors, 0),
      };
    }));
    return c.json({ apps, next_cursor: page.next });
  });
  return app;
}

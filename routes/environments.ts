/**
 * Environments, admin only: `DELETE /v1/apps/:appId/environments/:env` deletes a non-production
 * environment (its deployments, live pointer, variables and cron jobs; not the app's KV) and
 * stops its sandbox.
 */
import { Hono } from "hono";
import type { Deployments } from "../runtime/deploy/deployments.ts";
import { PlatformError } from "../runtime/errors.ts";
import type { EnvVars } from "../runtime/vars/vars.ts";
import type { AuthEnv } from "./auth.ts";
import { defineRoute, type OpenApiRegistry } from "./openapi.ts";
import { appEnvParams } from "./schemas.ts";

/** The environments router; mount under an authenticated `/v1`. */
export function environmentRoutes(
  deployments: Deployments,
  vars: EnvVars,
  registry: OpenApiRegistry,
): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  defineRoute(app, registry, {
    method: "delete",
    path: "/apps/:appId/environments/:env",
    summary:
      "Delete a non-production environment: its deployments, variables and cron jobs, not the app's KV (admin key only)",
    tag: "deployments",
    params: appEnvParams,
    responses: {
      204: "deleted, and its sandbox stopped",
      400: "the production environment",
      403: "not the admin key",
      404: "no such environment",
    },
  }, async (c, { params }) => {
    if (c.get("principal").kind !== "admin") {
      throw new PlatformError("forbidden", "only the admin API key can delete an environment");
    }
    await deployments.deleteEnvironment(params.appId, params.env);
    vars.invalidate(params.appId);
    return c.body(null, 204);
  });
  return app;
}

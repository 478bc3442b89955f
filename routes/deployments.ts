/**
 * Deployments: `POST /v1/apps/:appId/deploy`, listing and reading deployments, and rolling an
 * environment back to an earlier one.
 */
import { Hono } from "hono";
import { readJson } from "../runtime/body.ts";
import { parseDeployRequest } from "../runtime/deploy_request.ts";
import type { Deployments } from "../runtime/deployments.ts";
import { badRequest } from "../runtime/errors.ts";
import { checkAppId, checkEnvironment, DEPLOYMENT_ID } from "../runtime/ids.ts";
import type { Deployment, DeploymentSummary } from "../runtime/store/types.ts";
import { actor, type AuthEnv } from "./auth.ts";

/** Largest deploy request body, in bytes: 5 MB of source plus JSON escaping. */
export const MAX_DEPLOY_BODY_BYTES = 16 * 1024 * 1024;
/** Largest rollback request body, in bytes. */
const MAX_ROLLBACK_BODY_BYTES = 4096;
/** Default and largest page size of the deployments listing. */
const PAGE = { default: 20, max: 100 };

/** A deployment as the API shows it (snake_case); files and routes only when asked. */
function view(deployment: DeploymentSummary | Deployment, withFiles = false) {
  const out: Record<string, unknown> = {
    id: deployment.id,
    app_id: deployment.appId,
    environment: deployment.environment,
    created_at: deployment.createdAt,
    source: deployment.source,
    bundle_s3_key: deployment.bundleS3Key,
    message: deployment.message,
    deployed_by: deployment.deployedBy,
    routes: deployment.routes,
  };
  if (withFiles && "files" in deployment) out.source_files = deployment.files;
  return out;
}

function pageSize(raw: string | undefined): number {
  if (raw === undefined) return PAGE.default;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > PAGE.max) {
    throw badRequest(`limit must be an integer from 1 to ${PAGE.max}`);
  }
  return limit;
}

/** The deployments router; mount under an authenticated `/v1`. */
export function deployRoutes(deployments: Deployments): Hono<AuthEnv> {
  return new Hono<AuthEnv>()
    .post("/apps/:appId/deploy", async (c) => {
      const appId = checkAppId(c.req.param("appId"));
      const request = parseDeployRequest(await readJson(c.req.raw, MAX_DEPLOY_BODY_BYTES));
      return c.json(view(await deployments.deploy(appId, request, actor(c))), 201);
    })
    .get("/apps/:appId/deployments", async (c) => {
      const appId = checkAppId(c.req.param("appId"));
      const environment = c.req.query("environment");
      const cursor = c.req.query("cursor");
      if (cursor !== undefined && !DEPLOYMENT_ID.test(cursor)) {
        throw badRequest("cursor must be the next_cursor of a previous page");
      }
      const page = await deployments.list(appId, {
        environment: environment === undefined ? undefined : checkEnvironment(environment),
        limit: pageSize(c.req.query("limit")),
        before: cursor,
      });
      return c.json({
        deployments: page.deployments.map((d) => view(d)),
        next_cursor: page.nextCursor,
      });
    })
    .get("/apps/:appId/deployments/:id", async (c) => {
      const appId = checkAppId(c.req.param("appId"));
      return c.json(view(await deployments.get(appId, c.req.param("id")), true));
    })
    .post("/apps/:appId/environments/:env/rollback", async (c) => {
      const appId = checkAppId(c.req.param("appId"));
      const environment = checkEnvironment(c.req.param("env"));
      const body = await readJson(c.req.raw, MAX_ROLLBACK_BODY_BYTES) as Record<string, unknown>;
      const id = body?.deployment_id;
      if (typeof id !== "string") {
        throw badRequest("deployment_id is required: the id of the deployment to make live again");
      }
      return c.json(view(await deployments.rollback(appId, environment, id)));
    });
}

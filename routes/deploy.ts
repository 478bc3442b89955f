/** `POST /v1/apps/:appId/deploy`: parse, deploy, answer 201 with the deployment. */
import { Hono } from "hono";
import { readJson } from "../runtime/body.ts";
import { parseDeployRequest } from "../runtime/deploy_request.ts";
import type { Deployments } from "../runtime/deployments.ts";
import { checkAppId } from "../runtime/ids.ts";

/** Largest deploy request body, in bytes: 5 MB of source plus JSON escaping. */
export const MAX_DEPLOY_BODY_BYTES = 16 * 1024 * 1024;

/** The deploy router; mount under an authenticated `/v1`. */
export function deployRoutes(deployments: Deployments): Hono {
  return new Hono().post("/apps/:appId/deploy", async (c) => {
    const appId = checkAppId(c.req.param("appId"));
    const request = parseDeployRequest(await readJson(c.req.raw, MAX_DEPLOY_BODY_BYTES));
    const deployment = await deployments.deploy(appId, request);
    return c.json({
      id: deployment.id,
      app_id: deployment.appId,
      environment: deployment.environment,
      created_at: deployment.createdAt,
      source: deployment.source,
      bundle_s3_key: deployment.bundleS3Key,
      message: deployment.message,
      routes: deployment.routes,
    }, 201);
  });
}

/**
 * Deployments: `POST /v1/apps/:appId/deploy`, listing and reading deployments, and rolling an
 * environment back to an earlier one.
 */
import { Hono } from "hono";
import { z } from "zod";
import type { DeploymentMarks, Deployments } from "../runtime/deploy/deployments.ts";
import { appOrigin } from "./hosts.ts";
import { PACKAGES_DIR, packagesOf, packageStem } from "../runtime/deploy/packages.ts";
import { invalid } from "../runtime/errors.ts";
import { DEPLOYMENT_ID, ENVIRONMENT } from "../runtime/ids.ts";
import type { Deployment, DeploymentSummary } from "../runtime/store/types.ts";
import { actor, type AuthEnv } from "./auth.ts";
import { defineRoute, type OpenApiRegistry } from "./openapi.ts";
import {
  appEnvParams,
  appId,
  appParams,
  deploymentId,
  environment,
  namedRecord,
  pageLimit,
} from "./schemas.ts";
import * as bodies from "./responses.ts";

const ENVIRONMENT_MESSAGE =
  'environment must be 1-32 characters of a-z, 0-9 and -, like "production"';

/** Largest deploy request body, in bytes: 5 MB of source plus JSON escaping. */
const MAX_DEPLOY_BODY_BYTES = 16 * 1024 * 1024;
/** Largest rollback request body, in bytes. */
const MAX_ROLLBACK_BODY_BYTES = 4096;
/** Default and largest page size of the deployments listing. */
const PAGE = { default: 20, max: 100 };

/**
 * A deployment as the API shows it (snake_case); files only when asked. `live`: it serves its
 * environment now; `previous`: it was live before the current one (a plain rollback's target).
 */
function view(
  deployment: DeploymentSummary | Deployment,
  marks: DeploymentMarks,
  withFiles = false,
) {
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
    packages: deployment.packages ?? {},
    live: marks.live[deployment.environment] === deployment.id,
    previous: marks.previous[deployment.environment] === deployment.id,
  };
  if (withFiles && "files" in deployment) out.source_files = deployment.files;
  return out;
}

const TEXT = (field: string, max: number) =>
  z.string({ error: `${field} must be a string` })
    .max(max, `${field} is longer than ${max} characters`)
    .nullish();

/** The body of `POST /v1/apps/:appId/deploy`; file contents are checked by the compiler. */
const deployBody = z.object(
  {
    environment: z.string({ error: ENVIRONMENT_MESSAGE })
      .regex(ENVIRONMENT, ENVIRONMENT_MESSAGE)
      .default("production"),
    source: TEXT("source", 100),
    bundle_s3_key: TEXT("bundle_s3_key", 1024),
    message: TEXT("message", 4096),
    source_files: namedRecord(z.string(), {
      shape: (input) =>
        input === undefined
          ? 'source_files is required: an object of path → source text, like {"api/hello.ts": "..."}'
          : "source_files must be an object of path → source text",
      entry: (path) => `source_files[${JSON.stringify(path)}] must be a string of source text`,
    }),
    packages: namedRecord(z.string().max(256), {
      shape: () => 'packages must be an object of package name → version, like {"zod": "3.23.8"}',
      entry: (name) => `packages[${JSON.stringify(name)}] must be a version string`,
    }).optional().describe(
      "name → version of each npm package bundled into source_files (_packages/, by fn " +
        "deploy); when given, it must match those modules",
    ),
  },
  { error: "the request body must be a JSON object" },
);

/**
 * Refuses (400) a deploy whose `packages` differs from the package modules its files hold:
 * the deployment records the packages from its files, so a listing that disagrees is a mistake.
 */
function checkPackages(claimed: Record<string, string>, files: Record<string, string>): void {
  const { packages } = packagesOf(Object.keys(files));
  const names = new Set([...Object.keys(claimed), ...Object.keys(packages)]);
  for (const name of [...names].sort()) {
    if (claimed[name] === packages[name]) continue;
    const held = packages[name] === undefined
      ? `source_files holds no module of it (${PACKAGES_DIR}/${
        packageStem(name, "<version>", null)
      }.js)`
      : `source_files holds ${name}@${packages[name]}`;
    throw invalid(
      `packages[${JSON.stringify(name)}] is ${claimed[name] ?? "missing"}, but ${held}`,
    );
  }
}

const listQuery = z.object({
  environment: environment.optional(),
  limit: pageLimit(PAGE.max),
  cursor: z.string().regex(DEPLOYMENT_ID, "cursor must be the next_cursor of a previous page")
    .optional(),
});

const rollbackBody = z.object({
  deployment_id: z.string({
    error: "deployment_id must be the id of the deployment to make live again",
  }).nullish().describe("the deployment to make live; omitted: the previous one"),
}, { error: "the request body must be a JSON object" });

/** The deployments router; mount under an authenticated `/v1`. */
export function deployRoutes(
  deployments: Deployments,
  registry: OpenApiRegistry,
  baseDomain: string,
): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const tag = "deployments";
  defineRoute(app, registry, {
    method: "post",
    path: "/apps/:appId/deploy",
    summary: "Deploy source files; the new deployment becomes live at once",
    tag,
    params: appParams,
    body: deployBody,
    bodyExample: {
      source: "cli",
      message: "a first deploy",
      source_files: { "api/hello.ts": 'export default () => new Response("hello")' },
    },
    maxBodyBytes: MAX_DEPLOY_BODY_BYTES,
    responses: {
      201: "the deployment, live",
      400: "the body or the code was refused (diagnostics)",
      413: "the body, or the compiled code, is too large",
      429: "too many deploys of this app are waiting to compile; retry later",
      503: "the store cannot be reached, or the deployment could not be loaded; retry shortly",
    },
    returns: bodies.Deployment,
  }, async (c, { params, body }) => {
    const request = {
      environment: body.environment,
      source: body.source ?? null,
      bundleS3Key: body.bundle_s3_key ?? null,
      message: body.message ?? null,
      files: Object.fromEntries(Object.entries(body.source_files)),
    };
    if (body.packages) checkPackages(body.packages, request.files);
    const deployment = await deployments.deploy(params.appId, request, actor(c));
    const url = appOrigin(c.req.raw, baseDomain, params.appId, deployment.environment);
    return c.json({ ...view(deployment, await deployments.marks(params.appId)), url }, 201);
  });
  defineRoute(app, registry, {
    method: "get",
    path: "/apps/:appId/deployments",
    summary:
      "List an app's deployments, newest first, marking each environment's live and previous one",
    tag,
    params: appParams,
    query: listQuery,
    responses: { 200: "a page of deployments and next_cursor", 400: "a bad query parameter" },
    returns: bodies.DeploymentPage,
  }, async (c, { params, query }) => {
    const [page, marks] = await Promise.all([
      deployments.list(params.appId, {
        environment: query.environment,
        limit: query.limit ?? PAGE.default,
        before: query.cursor,
      }),
      deployments.marks(params.appId),
    ]);
    return c.json({
      deployments: page.deployments.map((d) => view(d, marks)),
      next_cursor: page.nextCursor,
      // Per environment, even when those deployments are on another page.
      live: marks.live,
      previous: marks.previous,
    });
  });
  defineRoute(app, registry, {
    method: "get",
    path: "/apps/:appId/deployments/:id",
    summary: "One deployment, with its source files and routes",
    tag,
    params: z.object({ appId, id: deploymentId }),
    responses: { 200: "the deployment", 404: "no such deployment" },
    returns: bodies.Deployment,
  }, async (c, { params }) => {
    const [deployment, marks] = await Promise.all([
      deployments.get(params.appId, params.id),
      deployments.marks(params.appId),
    ]);
    return c.json(view(deployment, marks, true));
  });
  defineRoute(
    app,
    registry,
    {
      method: "post",
      path: "/apps/:appId/environments/:env/rollback",
      summary: "Make another deployment of this environment live (default: the previous live one)",
      tag,
      params: appEnvParams,
      body: rollbackBody,
      maxBodyBytes: MAX_ROLLBACK_BODY_BYTES,
      responses: {
        200: "the deployment, live again",
        400: "a bad body, a deployment of another environment, or no previous one",
        404: "no such deployment",
        503: "the store cannot be reached, or the deployment could not be loaded; retry shortly",
      },
      returns: bodies.Deployment,
    },
    async (c, { params, body }) => {
      const id = body.deployment_id ?? null;
      const deployment = await deployments.rollback(params.appId, params.env, id);
      return c.json(view(deployment, await deployments.marks(params.appId)));
    },
  );
  return app;
}

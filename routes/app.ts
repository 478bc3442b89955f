/** The HTTP app: mounts the routers and turns every error into `{ "error": … }` JSON in one place. */
import { Hono } from "hono";
import type { Platform } from "../runtime/platform/platform.ts";
import { authenticate, type AuthEnv, requireAppAccess } from "./auth.ts";
import { appRoutes } from "./apps.ts";
import { deployRoutes } from "./deployments.ts";
import { environmentRoutes } from "./environments.ts";
import { metricRoutes, prometheusRoute } from "./metrics.ts";
import { OpenApiRegistry } from "./openapi.ts";
import { OpenApiDocument } from "./responses.ts";
import { answerError } from "./errors.ts";
import { functionDispatcher } from "./functions.ts";
import { platformHostOnly } from "./hosts.ts";
import { boundedQuery } from "./query_limit.ts";
import { keyRoutes } from "./keys.ts";
import { kvRoutes } from "./kv.ts";
import { logRoutes } from "./logs.ts";
import { rateLimitRoutes } from "./rate_limits.ts";
import { scheduleRoutes } from "./schedules.ts";
import { checkAppParams } from "./schemas.ts";
import { studioRoutes } from "./studio.ts";
import { varRoutes } from "./vars.ts";

/** Builds the Hono app from the platform's parts; holds no state of its own. */
export function createApp(platform: Platform): Hono {
  const { config, deployments, functions, logs } = platform;
  const app = new Hono();
  const registry = new OpenApiRegistry();
  let types: Promise<string> | undefined;

  app.onError(answerError);
  app.notFound((c) =>
    c.json({ error: `no route for ${c.req.method} ${new URL(c.req.url).pathname}` }, 404)
  );
  // First of all: on an app's own host only its functions answer (routes/hosts.ts).
  app.use("*", platformHostOnly(config));

  // The API's own description, built from the route declarations below; nothing secret.
  app.get("/v1/openapi.json", (c) => c.json(registry.document()));
  registry.add({
    method: "get",
    path: "/openapi.json",
    summary: "This document: the OpenAPI 3.1 description of the /v1 API",
    tag: "meta",
    public: true,
    responses: { 200: "the document" },
    returns: OpenApiDocument,
  });
  registry.add({
    method: "get",
    path: "/types.d.ts",
    summary: "The TypeScript types of a handler (ctx, its return value)",
    tag: "meta",
    public: true,
    responses: { 200: "a TypeScript declaration file" },
    contentType: "application/typescript",
  });
  // The handler types (runtime/sandbox/ctx.ts), for editors and `deno check`; nothing secret.
  app.get("/v1/types.d.ts", async (c) => {
    types ??= Deno.readTextFile(new URL("../runtime/sandbox/ctx.ts", import.meta.url));
    return c.body(await types, 200, { "content-type": "application/typescript; charset=utf-8" });
  });

  app.get("/healthz", async (c) => {
    const problem = await platform.unhealthy();
    return problem ? c.json({ ok: false, error: problem }, 503) : c.json({ ok: true });
  });

  const api = new Hono<AuthEnv>();
  api.use("*", boundedQuery);
  api.use("*", authenticate(platform.keys));
  api.use("/apps/:appId", checkAppParams);
  api.use("/apps/:appId/*", checkAppParams);
  api.use("/apps/:appId/environments/:env/*", checkAppParams);
  api.use("/apps/:appId/*", requireAppAccess);
  api.route("/", appRoutes(platform.store, platform.metrics, registry));
  api.route("/", deployRoutes(deployments, registry, config.baseDomain));
  api.route("/", environmentRoutes(deployments, platform.vars, registry));
  api.route("/", logRoutes(logs, registry));
  api.route("/", varRoutes(platform.vars, registry));
  api.route("/", keyRoutes(platform.keys, registry));
  api.route("/", rateLimitRoutes(platform.rateLimits, registry));
  api.route("/", scheduleRoutes(platform.scheduler, registry));
  api.route("/", kvRoutes(platform.kv, registry));
  api.route("/", metricRoutes(platform.metrics, registry));
  app.route("/v1", api);
  app.route("/", prometheusRoute(platform.metrics, platform.keys));
  app.route("/", studioRoutes(config));
  // Function requests are answered ahead of the router tree and its middleware: they are the
  // hot path, and any other path falls through to the Hono app above.
  const dispatch = functionDispatcher(functions, config);
  const routed = app.fetch;
  // Deno.serve passes its handler info (the client's address) as Hono's `env`.
  app.fetch = (request, env, context) => dispatch(request, env) ?? routed(request, env, context);
  return app;
}

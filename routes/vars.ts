/**
 * Environment variables: `GET /v1/apps/:appId/environments/:env/vars` (all, masked), and
 * `GET/PUT/DELETE …/vars/:name` (one).
 */
import { Hono } from "hono";
import { z } from "zod";
import type { EnvVars } from "../runtime/vars/vars.ts";
import type { AuthEnv } from "./auth.ts";
import { defineRoute, type OpenApiRegistry } from "./openapi.ts";
import { appEnvParams } from "./schemas.ts";
import * as bodies from "./responses.ts";
import { VAR_NAME } from "../runtime/vars/vars.ts";

/** Largest PUT body, in bytes: a 64 KB value even if every character is JSON-escaped. */
const MAX_VAR_BODY_BYTES = 512 * 1024;

const oneVar = appEnvParams.extend({
  // The rule is checked where variables are (runtime/vars/vars.ts), with its message there.
  name: z.string().meta({ pattern: VAR_NAME.source, description: "the variable's name" }),
});
const BODY_SHAPE = 'the body must be a JSON object like {"value": "..."}';
const putBody = z.object({
  // Checked where variables are (runtime/vars/vars.ts), with its message there.
  value: z.unknown().refine((v) => v !== undefined, BODY_SHAPE)
    .meta({ type: "string", description: "at most 64 KB of UTF-8" }),
}, { error: BODY_SHAPE });

/** The variables router; mount under an authenticated `/v1`. */
export function varRoutes(vars: EnvVars, registry: OpenApiRegistry): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  const base = "/apps/:appId/environments/:env/vars";
  const tag = "variables";
  defineRoute(app, registry, {
    method: "get",
    path: base,
    summary: "An environment's variables: names and masked previews",
    tag,
    params: appEnvParams,
    responses: { 200: "the variables, values never shown" },
    returns: bodies.VariableList,
  }, async (c, { params }) => c.json({ vars: await vars.list(params.appId, params.env) }));
  defineRoute(app, registry, {
    method: "get",
    path: `${base}/:name`,
    summary: "One variable, masked",
    tag,
    params: oneVar,
    responses: { 200: "the variable's name and preview", 404: "no such variable" },
    returns: bodies.Variable,
  }, async (c, { params }) => c.json(await vars.info(params.appId, params.env, params.name)));
  defineRoute(app, registry, {
    method: "put",
    path: `${base}/:name`,
    summary: "Set a variable (write-only; reaches ctx.env without a redeploy)",
    tag,
    params: oneVar,
    body: putBody,
    maxBodyBytes: MAX_VAR_BODY_BYTES,
    responses: { 200: "replaced", 201: "created", 400: "a bad name or value" },
    returns: bodies.VariableWritten,
  }, async (c, { params, body }) => {
    const created = await vars.set(params.appId, params.env, params.name, body.value);
    return c.json({ name: params.name, environment: params.env }, created ? 201 : 200);
  });
  defineRoute(app, registry, {
    method: "delete",
    path: `${base}/:name`,
    summary: "Delete a variable",
    tag,
    params: oneVar,
    responses: { 204: "deleted", 404: "no such variable" },
  }, async (c, { params }) => {
    await vars.delete(params.appId, params.env, params.name);
    return c.body(null, 204);
  });
  return app;
}

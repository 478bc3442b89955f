/**
 * Environment variables: `GET /v1/apps/:appId/environments/:env/vars` (all, masked), and
 * `GET/PUT/DELETE …/vars/:name` (one).
 */
import { type Context, Hono } from "hono";
import { readJson } from "../runtime/body.ts";
import { badRequest } from "../runtime/errors.ts";
import { checkAppId, checkEnvironment } from "../runtime/ids.ts";
import type { EnvVars } from "../runtime/vars.ts";
import type { AuthEnv } from "./auth.ts";

/** Largest PUT body, in bytes: a 64 KB value even if every character is JSON-escaped. */
const MAX_VAR_BODY_BYTES = 512 * 1024;

/** The variables router; mount under an authenticated `/v1`. */
export function varRoutes(vars: EnvVars): Hono<AuthEnv> {
  const base = "/apps/:appId/environments/:env/vars";
  const target = (c: Context<AuthEnv>) => ({
    appId: checkAppId(c.req.param("appId") ?? ""),
    environment: checkEnvironment(c.req.param("env") ?? ""),
  });
  return new Hono<AuthEnv>()
    .get(base, async (c) => {
      const { appId, environment } = target(c);
      return c.json({ vars: await vars.list(appId, environment) });
    })
    .get(`${base}/:name`, async (c) => {
      const { appId, environment } = target(c);
      return c.json(await vars.info(appId, environment, c.req.param("name")));
    })
    .put(`${base}/:name`, async (c) => {
      const { appId, environment } = target(c);
      const name = c.req.param("name");
      const body = await readJson(c.req.raw, MAX_VAR_BODY_BYTES);
      if (typeof body !== "object" || body === null || !("value" in body)) {
        throw badRequest('the body must be a JSON object like {"value": "..."}');
      }
      const created = await vars.set(appId, environment, name, body.value);
      return c.json({ name, environment }, created ? 201 : 200);
    })
    .delete(`${base}/:name`, async (c) => {
      const { appId, environment } = target(c);
      await vars.delete(appId, environment, c.req.param("name"));
      return c.body(null, 204);
    });
}

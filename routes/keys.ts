/** Per-app API keys, admin only: `GET/POST /v1/apps/:appId/keys`, `DELETE /v1/apps/:appId/keys/:id`. */
import { Hono } from "hono";
import { z } from "zod";
import type { ApiKeys } from "../runtime/auth/keys.ts";
import { type AuthEnv, requireAdmin } from "./auth.ts";
import { defineRoute, type OpenApiRegistry } from "./openapi.ts";
import { appId, appParams, keyId } from "./schemas.ts";
import * as bodies from "./responses.ts";

const NAME_RULE = "name must be 1 to 64 printable characters";
/** `?name=`: a label for the new key, shown in listings. */
const newKeyQuery = z.object({
  name: z.string().min(1, NAME_RULE).max(64, NAME_RULE).regex(/^[^\p{C}]+$/u, NAME_RULE)
    .optional().describe("a label for the key, e.g. ci"),
});

/** The keys router; mount under an authenticated `/v1`. */
export function keyRoutes(keys: ApiKeys, registry: OpenApiRegistry): Hono<AuthEnv> {
  const adminOnly = requireAdmin("manage API keys");
  const app = new Hono<AuthEnv>()
    .use("/apps/:appId/keys", adminOnly)
    .use("/apps/:appId/keys/*", adminOnly);
  const tag = "keys";
  defineRoute(app, registry, {
    method: "get",
    path: "/apps/:appId/keys",
    summary: "An app's API keys (ids and times; admin key only)",
    tag,
    params: appParams,
    responses: { 200: "the keys", 403: "not the admin key" },
    returns: bodies.ApiKeyList,
  }, async (c, { params }) => c.json({ keys: await keys.list(params.appId) }));
  defineRoute(app, registry, {
    method: "post",
    path: "/apps/:appId/keys",
    summary: "Create a per-app key (shown once; admin key only), labelled by ?name=",
    tag,
    params: appParams,
    query: newKeyQuery,
    responses: { 201: "the key, with its secret", 400: "a bad name", 403: "not the admin key" },
    returns: bodies.NewApiKey,
  }, async (c, { params, query }) => c.json(await keys.create(params.appId, query.name), 201));
  defineRoute(app, registry, {
    method: "delete",
    path: "/apps/:appId/keys/:id",
    summary: "Revoke a per-app key (admin key only)",
    tag,
    params: z.object({ appId, id: keyId }),
    responses: { 204: "revoked", 403: "not the admin key", 404: "no such key" },
  }, async (c, { params }) => {
    await keys.revoke(params.appId, params.id);
    return c.body(null, 204);
  });
  return app;
}

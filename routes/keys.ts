/** Per-app API keys, admin only: `GET/POST /v1/apps/:appId/keys`, `DELETE /v1/apps/:appId/keys/:id`. */
import { Hono } from "hono";
import { checkAppId } from "../runtime/ids.ts";
import type { ApiKeys } from "../runtime/keys.ts";
import { type AuthEnv, requireAdmin } from "./auth.ts";

/** The keys router; mount under an authenticated `/v1`. */
export function keyRoutes(keys: ApiKeys): Hono<AuthEnv> {
  return new Hono<AuthEnv>()
    .use("/apps/:appId/keys", requireAdmin)
    .use("/apps/:appId/keys/*", requireAdmin)
    .get("/apps/:appId/keys", async (c) => {
      return c.json({ keys: await keys.list(checkAppId(c.req.param("appId"))) });
    })
    .post("/apps/:appId/keys", async (c) => {
      return c.json(await keys.create(checkAppId(c.req.param("appId"))), 201);
    })
    .delete("/apps/:appId/keys/:id", async (c) => {
      await keys.revoke(checkAppId(c.req.param("appId")), c.req.param("id"));
      return c.body(null, 204);
    });
}

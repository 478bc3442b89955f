/**
 * Authentication of the /v1 API: `Authorization: Bearer <key>`, the admin key or a per-app key.
 * A per-app key acts on its own app only (403 elsewhere); managing keys needs the admin key.
 */
import type { Context, MiddlewareHandler } from "hono";
import { PlatformError } from "../runtime/errors.ts";
import type { ApiKeys, Principal } from "../runtime/auth/keys.ts";

/** Variables set on the Hono context of authenticated requests. */
export type AuthEnv = { Variables: { principal: Principal } };

/** Requires a valid key and records who it is; answers 401 otherwise. */
export function authenticate(keys: ApiKeys): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const match = (c.req.header("authorization") ?? "").match(/^Bearer\s+(.+)$/i);
    if (!match) {
      throw new PlatformError(
        "unauthorized",
        "missing API key: send Authorization: Bearer <API key>",
      );
    }
    const principal = await keys.authenticate(match[1]!.trim());
    if (!principal) throw new PlatformError("unauthorized", "invalid API key");
    c.set("principal", principal);
    await next();
  };
}

/** Lets the admin key and the key of the app in the path through; 403 for another app's key. */
export const requireAppAccess: MiddlewareHandler<AuthEnv> = async (c, next) => {
  const principal = c.get("principal");
  const appId = c.req.param("appId");
  if (principal.kind === "app" && principal.appId !== appId) {
    throw new PlatformError(
      "forbidden",
      `this API key belongs to app "${principal.appId}" and cannot act on app "${appId}"`,
    );
  }
  await next();
};

/** Lets only the admin key through; 403 for per-app keys, saying that only it can do `what`. */
export function requireAdmin(what: string): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    if (c.get("principal").kind !== "admin") {
      throw new PlatformError("forbidden", `only the admin API key can ${what}`);
    }
    await next();
  };
}

/** Who made the call, as recorded on deployments: `admin` or the per-app key's id. */
export function actor(c: Context<AuthEnv>): string {
  const principal = c.get("principal");
  return principal.kind === "admin" ? "admin" : principal.keyId;
}

/**
 * Function invocation URLs: `/apps/:appId/functions/...`, and `/functions/...` on the host
 * `<appId>.<base domain>`. Every response, errors included, carries `x-request-id`.
 */
import { type Context, Hono } from "hono";
import { notFound } from "../runtime/errors.ts";
import { APP_ID, newId } from "../runtime/ids.ts";
import type { FunctionRunner } from "../runtime/invoke.ts";

/** Header that carries the request id on every function response. */
export const REQUEST_ID_HEADER = "x-request-id";
const PRODUCTION = "production";

/** Variables set on the Hono context of function requests. */
export type FunctionEnv = { Variables: { requestId: string } };

function appFromHost(host: string | undefined, baseDomain: string): string | null {
  const name = (host ?? "").toLowerCase().replace(/:\d+$/, "");
  if (!name.endsWith(`.${baseDomain}`)) return null;
  const label = name.slice(0, -(baseDomain.length + 1));
  return APP_ID.test(label) ? label : null;
}

/** The invocation router; mount at the root. */
export function functionRoutes(runner: FunctionRunner, baseDomain: string): Hono<FunctionEnv> {
  const app = new Hono<FunctionEnv>();

  const invoke = async (c: Context<FunctionEnv>, appId: string | null, prefix: string) => {
    if (appId === null) {
      throw notFound(
        `no app for this host: call /apps/<appId>/functions/... or use the host <appId>.${baseDomain}`,
      );
    }
    if (!APP_ID.test(appId)) throw notFound(`no app "${appId}"`);
    const subpath = new URL(c.req.url).pathname.slice(prefix.length) || "/";
    const target = { appId, environment: PRODUCTION, subpath };
    return await runner.run(target, c.req.raw, c.get("requestId"));
  };
  const byPath = (c: Context<FunctionEnv>) => {
    const appId = c.req.param("appId") ?? "";
    return invoke(c, appId, `/apps/${appId}/functions`);
  };
  const byHost = (c: Context<FunctionEnv>) =>
    invoke(c, appFromHost(c.req.header("host"), baseDomain), "/functions");

  app.use("*", async (c, next) => {
    c.set("requestId", newId("req"));
    await next();
    c.res.headers.set(REQUEST_ID_HEADER, c.get("requestId"));
  });
  app.all("/apps/:appId/functions", byPath);
  app.all("/apps/:appId/functions/*", byPath);
  app.all("/functions", byHost);
  app.all("/functions/*", byHost);
  return app;
}

/**
 * Function invocation URLs. Production: `/apps/:appId/functions/...`, and `/functions/...` on
 * the host `<appId>.<base domain>`. Any other environment: `/apps/:appId/env/:env/functions/...`
 * and the host `<appId>--<env>.<base domain>` (app ids never contain `--`). Every response,
 * errors included, carries `x-request-id`.
 */
import { type Context, Hono } from "hono";
import { notFound } from "../runtime/errors.ts";
import { APP_ID, ENVIRONMENT, newId } from "../runtime/ids.ts";
import type { FunctionRunner } from "../runtime/invoke.ts";

/** Header that carries the request id on every function response. */
export const REQUEST_ID_HEADER = "x-request-id";
const PRODUCTION = "production";

/** Variables set on the Hono context of function requests. */
export type FunctionEnv = { Variables: { requestId: string } };

/** Which app and environment a host name addresses, or null. */
function targetFromHost(
  host: string | undefined,
  baseDomain: string,
): { appId: string; environment: string } | null {
  const name = (host ?? "").toLowerCase().replace(/:\d+$/, "");
  if (!name.endsWith(`.${baseDomain}`)) return null;
  const label = name.slice(0, -(baseDomain.length + 1));
  const split = label.indexOf("--");
  const appId = split < 0 ? label : label.slice(0, split);
  const environment = split < 0 ? PRODUCTION : label.slice(split + 2);
  return APP_ID.test(appId) && ENVIRONMENT.test(environment) ? { appId, environment } : null;
}

/** The invocation router; mount at the root. */
export function functionRoutes(runner: FunctionRunner, baseDomain: string): Hono<FunctionEnv> {
  const app = new Hono<FunctionEnv>();

  const invoke = async (
    c: Context<FunctionEnv>,
    appId: string,
    environment: string,
    prefix: string,
  ) => {
    if (!APP_ID.test(appId)) throw notFound(`no app "${appId}"`);
    if (!ENVIRONMENT.test(environment)) throw notFound(`no environment "${environment}"`);
    const subpath = new URL(c.req.url).pathname.slice(prefix.length) || "/";
    return await runner.run({ appId, environment, subpath }, c.req.raw, c.get("requestId"));
  };
  const byPath = (c: Context<FunctionEnv>) => {
    const appId = c.req.param("appId") ?? "";
    return invoke(c, appId, PRODUCTION, `/apps/${appId}/functions`);
  };
  const byEnvPath = (c: Context<FunctionEnv>) => {
    const appId = c.req.param("appId") ?? "";
    const environment = c.req.param("env") ?? "";
    return invoke(c, appId, environment, `/apps/${appId}/env/${environment}/functions`);
  };
  const byHost = (c: Context<FunctionEnv>) => {
    const target = targetFromHost(c.req.header("host"), baseDomain);
    if (!target) {
      throw notFound(
        "no app for this host: call /apps/<appId>/functions/... or use the host " +
          `<appId>.${baseDomain} (<appId>--<environment>.${baseDomain} for other environments)`,
      );
    }
    return invoke(c, target.appId, target.environment, "/functions");
  };

  app.use("*", async (c, next) => {
    c.set("requestId", newId("req"));
    await next();
    c.res.headers.set(REQUEST_ID_HEADER, c.get("requestId"));
  });
  app.all("/apps/:appId/functions", byPath);
  app.all("/apps/:appId/functions/*", byPath);
  app.all("/apps/:appId/env/:env/functions", byEnvPath);
  app.all("/apps/:appId/env/:env/functions/*", byEnvPath);
  app.all("/functions", byHost);
  app.all("/functions/*", byHost);
  return app;
}

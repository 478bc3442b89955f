/**
 * Function invocation URLs. Production: `/apps/:appId/functions/...`, and `/functions/...` on
 * the host `<appId>.<base domain>`. Any other environment: `/apps/:appId/env/:env/functions/...`
 * and the host `<appId>--<env>.<base domain>` (app ids never contain `--`). Every response,
 * errors included, carries `x-request-id`.
 */
import { type Context, Hono } from "hono";
import { notFound } from "../runtime/errors.ts";
import { APP_ID, ENVIRONMENT, newId } from "../runtime/ids.ts";
import type { FunctionRunner, FunctionTarget } from "../runtime/invoke/runner.ts";

/** Header that carries the request id on every function response. */
export const REQUEST_ID_HEADER = "x-request-id";
const PRODUCTION = "production";

/** Variables set on the Hono context of function requests. */
export type FunctionEnv = { Variables: { requestId: string } };

/** Which app and environment a host name addresses, or null. */
function targetFromHost(
  host: string | undefined,
  baseDomain: string,
): { appId: string; environment: string; host: string } | null {
  const name = (host ?? "").toLowerCase().replace(/:\d+$/, "");
  if (!name.endsWith(`.${baseDomain}`)) return null;
  const label = name.slice(0, -(baseDomain.length + 1));
  const split = label.indexOf("--");
  const appId = split < 0 ? label : label.slice(0, split);
  const environment = split < 0 ? PRODUCTION : label.slice(split + 2);
  return APP_ID.test(appId) && ENVIRONMENT.test(environment)
    ? { appId, environment, host: name }
    : null;
}

/** The invocation router; mount at the root. */
export function functionRoutes(
  runner: FunctionRunner,
  baseDomain: string,
  defaultApp: string | null = null,
): Hono<FunctionEnv> {
  const app = new Hono<FunctionEnv>();

  const invoke = async (
    c: Context<FunctionEnv>,
    appId: string,
    environment: string,
    /** Path segments before the function path: 3 for `/apps/:app/functions`, 5 with `/env/:env`. */
    prefixSegments: number,
    origin: FunctionTarget["origin"],
  ) => {
    if (!APP_ID.test(appId)) throw notFound(`no app "${appId}"`);
    if (!ENVIRONMENT.test(environment)) throw notFound(`no environment "${environment}"`);
    // The raw path, cut by segments: its own percent-encoding is decoded once, by the router.
    const segments = new URL(c.req.url).pathname.split("/").slice(prefixSegments + 1);
    const subpath = `/${segments.join("/")}`;
    return await runner.run(
      { appId, environment, subpath, origin },
      c.req.raw,
      c.get("requestId"),
    );
  };
  const byPath = (c: Context<FunctionEnv>) =>
    invoke(c, c.req.param("appId") ?? "", PRODUCTION, 3, { shared: true });
  const byEnvPath = (c: Context<FunctionEnv>) =>
    invoke(c, c.req.param("appId") ?? "", c.req.param("env") ?? "", 5, { shared: true });
  const byHost = (c: Context<FunctionEnv>) => {
    const target = targetFromHost(c.req.header("host"), baseDomain) ??
      (defaultApp ? { appId: defaultApp, environment: PRODUCTION, host: "" } : null);
    if (!target) {
      throw notFound(
        "no app for this host: call /apps/<appId>/functions/... or use the host " +
          `<appId>.${baseDomain} (<appId>--<environment>.${baseDomain} for other environments)`,
      );
    }
    const origin = target.host
      ? { shared: false as const, host: target.host }
      : { shared: true as const };
    return invoke(c, target.appId, target.environment, 1, origin);
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

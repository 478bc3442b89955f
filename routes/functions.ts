/**
 * Function invocation URLs, dispatched ahead of the Hono router: a function request is the hot
 * path, and needs none of the API's middleware. Production: `/apps/:appId/functions/...` on the
 * platform's host, and `/functions/...` on the host `<appId>.<base domain>`. Any other
 * environment: `/apps/:appId/env/:env/functions/...` and the host `<appId>--<env>.<base domain>`
 * (app ids never contain `--`). Every response, errors included, carries `x-request-id`.
 */
import { notFound } from "../runtime/errors.ts";
import { APP_ID, ENVIRONMENT, newId } from "../runtime/ids.ts";
import type { FunctionRunner, FunctionTarget } from "../runtime/invoke/runner.ts";
import { errorResponse } from "./errors.ts";
import { hostKind, hostName, type HostRules } from "./hosts.ts";

const PRODUCTION = "production";

/** Which app and environment a tenant host name addresses, or null. */
function targetFromHost(
  name: string,
  baseDomain: string,
): { appId: string; environment: string } | null {
  if (!name.endsWith(`.${baseDomain}`)) return null;
  const label = name.slice(0, -(baseDomain.length + 1));
  const split = label.indexOf("--");
  const appId = split < 0 ? label : label.slice(0, split);
  const environment = split < 0 ? PRODUCTION : label.slice(split + 2);
  return APP_ID.test(appId) && ENVIRONMENT.test(environment) ? { appId, environment } : null;
}

/** The path of a request URL (from its first `/` after the authority, without the query). */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const query = url.indexOf("?", start);
  return query < 0 ? url.slice(start) : url.slice(start, query);
}

/** The host a request came to: its Host header, else its URL's authority (in-process calls). */
function hostOf(request: Request): string {
  const header = request.headers.get("host");
  if (header !== null) return header;
  const start = request.url.indexOf("//") + 2;
  const end = request.url.indexOf("/", start);
  return request.url.slice(start, end < 0 ? undefined : end);
}

/** A path segment percent-decoded, or as it is when its escapes are malformed. */
function decoded(segment: string): string {
  if (!segment.includes("%")) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The client's address from what Deno.serve passes a handler, or null without one. */
function remoteAddress(info: unknown): string | null {
  const addr = (info as { remoteAddr?: { hostname?: unknown } } | undefined)?.remoteAddr;
  return typeof addr?.hostname === "string" ? addr.hostname : null;
}

/** Where a function request goes, or null when the path is not a function path. */
type Dispatch = { target: FunctionTarget } | { error: unknown } | null;

/** The host rules plus the app `/functions/...` serves on a host that names no app. */
export interface FunctionRouting extends HostRules {
  defaultApp: string | null;
}

/**
 * Builds the dispatcher: `dispatch(request)` answers a function request, or returns null for
 * any other path (the API, the Studio), which then goes to the Hono app.
 */
export function functionDispatcher(
  runner: FunctionRunner,
  routing: FunctionRouting,
): (request: Request, info?: unknown) => Promise<Response> | null {
  const route = (request: Request): Dispatch => {
    const path = pathOf(request.url);
    // The raw path, cut by segments: its own percent-encoding is decoded once, by the router.
    if (path === "/functions" || path.startsWith("/functions/")) {
      const name = hostName(hostOf(request));
      const target = targetFromHost(name, routing.baseDomain) ??
        (routing.defaultApp ? { appId: routing.defaultApp, environment: PRODUCTION } : null);
      if (!target) {
        return {
          error: notFound(
            "no app for this host: call /apps/<appId>/functions/... or use the host " +
              `<appId>.${routing.baseDomain} (<appId>--<environment>.${routing.baseDomain} ` +
              "for other environments)",
          ),
        };
      }
      const origin = name.endsWith(`.${routing.baseDomain}`)
        ? { shared: false as const, host: name }
        : { shared: true as const };
      return { target: { ...target, subpath: path.slice("/functions".length) || "/", origin } };
    }
    if (!path.startsWith("/apps/")) return null;
    const segments = path.split("/");
    // ["", "apps", app, "functions", ...] or ["", "apps", app, "env", env, "functions", ...]
    const withEnv = segments[3] === "env";
    const at = withEnv ? 5 : 3;
    if (segments[at] !== "functions") return null;
    // The shared path form is the platform's: an app's own host serves only /functions/*.
    if (hostKind(hostOf(request), routing) !== "platform") return null;
    const appId = decoded(segments[2]!);
    const environment = withEnv ? decoded(segments[4]!) : PRODUCTION;
    if (!APP_ID.test(appId)) return { error: notFound(`no app "${appId}"`) };
    if (!ENVIRONMENT.test(environment)) {
      return { error: notFound(`no environment "${environment}"`) };
    }
    const subpath = `/${segments.slice(at + 1).join("/")}`;
    return { target: { appId, environment, subpath, origin: { shared: true } } };
  };

  return (request, info) => {
    const dispatch = route(request);
    if (dispatch === null) return null;
    const requestId = newId("req");
    if ("error" in dispatch) return Promise.resolve(errorResponse(dispatch.error, requestId));
    dispatch.target.clientAddress = remoteAddress(info);
    // The runner's responses carry the request id already.
    return runner.run(dispatch.target, request, requestId).catch((error) =>
      errorResponse(error, requestId)
    );
  };
}

/**
 * Which host a request came to decides what it may reach. The platform host serves the API, the
 * Studio, metrics, health and the shared `/apps/<app>/functions` form; a tenant host
 * (`<app>.<BASE_DOMAIN>`, `<app>--<env>.<BASE_DOMAIN>`) is the app's own origin, where function
 * responses run scripts, so it serves `/functions/*` and nothing else: the Studio and its key
 * never load on an origin a tenant controls.
 */
import type { MiddlewareHandler } from "hono";
import { notFound } from "../runtime/errors.ts";

/** What a host name is to the platform. */
export type HostKind = "platform" | "tenant" | "other";

/** The host rules: the apps' base domain, and the platform's own host (null: any other host). */
export interface HostRules {
  baseDomain: string;
  platformHost: string | null;
}

/** A Host header value as a host name: lower-case, without its port or a trailing dot. */
export function hostName(host: string): string {
  return host.toLowerCase().replace(/:\d+$/, "").replace(/\.$/, "");
}

/**
 * Classifies `host` (a Host header value; the port is ignored). PLATFORM_HOST wins even when it
 * lies under BASE_DOMAIN (`studio.example.com` with apps under `example.com`: `studio` is a
 * reserved app id). Unset, every host not under the base domain is the platform's, so
 * `localhost` and `127.0.0.1` are in development; set, such other hosts serve functions only.
 */
export function hostKind(host: string, rules: HostRules): HostKind {
  const name = hostName(host);
  if (rules.platformHost !== null && name === rules.platformHost) return "platform";
  if (name.endsWith(`.${rules.baseDomain}`)) return "tenant";
  return rules.platformHost === null ? "platform" : "other";
}

/** Function paths answered on every host: `/functions` and below. */
function isFunctionPath(path: string): boolean {
  return path === "/functions" || path.startsWith("/functions/");
}

/** Answers 404 JSON for everything but `/functions/*` on hosts that are not the platform's. */
export function platformHostOnly(rules: HostRules): MiddlewareHandler {
  return async (c, next) => {
    const url = new URL(c.req.url);
    const host = c.req.header("host") ?? url.host;
    const kind = hostKind(host, rules);
    if (kind !== "platform" && !isFunctionPath(url.pathname)) {
      throw notFound(
        `no route for ${c.req.method} ${url.pathname} on ${
          kind === "tenant" ? "an app's host" : "this host"
        }: an app's host serves only /functions/...; the API and the Studio are on the ` +
          "platform's host",
      );
    }
    await next();
  };
}

/**
 * The URL an app environment's functions are served at on its own host (`<app>.<BASE_DOMAIN>`,
 * `<app>--<env>.<BASE_DOMAIN>`), with the scheme and port the client used to reach the platform
 * (`x-forwarded-proto` when a proxy in front says so): what the CLI prints after a deploy.
 */
export function appOrigin(
  request: Request,
  baseDomain: string,
  appId: string,
  env: string,
): string {
  const url = new URL(request.url);
  const forwarded = request.headers.get("x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase();
  const scheme = forwarded === "https" || forwarded === "http"
    ? forwarded
    : url.protocol.slice(0, -1);
  const port = (request.headers.get("host") ?? url.host).match(/:(\d+)$/)?.[1];
  const label = env === "production" ? appId : `${appId}--${env}`;
  return `${scheme}://${label}.${baseDomain}${port ? `:${port}` : ""}`;
}

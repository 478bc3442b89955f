/**
 * The Studio's URL hash: `#/apps`, `#/apps/<app>[/<tab>][?env=…&request_id=…&function=…&level=…
 * &q=…]`. The hash is written by whoever links or redirects to the Studio, a tenant's page
 * included, so every segment and parameter read from it is checked against its rule here, before
 * any page sees it; `hashOf` builds hashes with every value percent-encoded.
 */
import { APP_ID, ENVIRONMENT } from "../runtime/ids.ts";

/** The tabs of an app's page, the only values its `<tab>` segment may take. */
export const TABS = [
  "overview",
  "functions",
  "deployments",
  "logs",
  "metrics",
  "kv",
  "variables",
  "keys",
] as const;
/** One tab of an app's page. */
export type Tab = typeof TABS[number];

/** Request ids, as the platform makes them (`newId("req")`). */
const REQUEST_ID = /^req_[0-9a-f]{24}$/;
/** Route files, as deployments name them (`api/users/[id].ts`). */
const ROUTE_FILE = /^api\/[A-Za-z0-9_.\-[\]/]{1,500}$/;
/** The log levels, lowest first. */
export const LEVELS = ["debug", "info", "warn", "error"] as const;
/** Longest text search (the logs API's bound). */
const MAX_QUERY = 512;

/** The log filters a hash may carry; each has been checked. */
export interface LogFilters {
  request_id?: string;
  function?: string;
  level?: typeof LEVELS[number];
  q?: string;
}

/** What the hash asks for; `refused` says which segment broke which rule. */
export type View =
  | { kind: "apps" }
  | { kind: "app"; app: string; tab: Tab; env: string | null; filters: LogFilters }
  | { kind: "refused"; error: string };

const quoted = (text: string) => JSON.stringify(text.slice(0, 80));

/** Reads a hash, checking every segment and parameter against its rule. */
export function parseHash(hash: string): View {
  const [path = "", search = ""] = hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean);
  if (parts[0] !== "apps" || parts.length < 2) return { kind: "apps" };
  const [, app = "", tab = "overview", ...rest] = parts;
  if (!APP_ID.test(app)) {
    return {
      kind: "refused",
      error: `${quoted(app)} is not an app id (1-62 lower-case letters, digits and single hyphens)`,
    };
  }
  if (!(TABS as readonly string[]).includes(tab) || rest.length > 0) {
    return { kind: "refused", error: `${quoted(parts.slice(2).join("/"))} is not a tab of an app` };
  }
  const params = new URLSearchParams(search);
  const env = params.get("env");
  if (env !== null && !ENVIRONMENT.test(env)) {
    return { kind: "refused", error: `${quoted(env)} is not an environment name` };
  }
  const filters: LogFilters = {};
  const requestId = params.get("request_id");
  if (requestId !== null) {
    if (!REQUEST_ID.test(requestId)) {
      return { kind: "refused", error: `${quoted(requestId)} is not a request id` };
    }
    filters.request_id = requestId;
  }
  const file = params.get("function");
  if (file !== null) {
    if (!ROUTE_FILE.test(file)) {
      return { kind: "refused", error: `${quoted(file)} is not a route file (api/….ts)` };
    }
    filters.function = file;
  }
  const level = params.get("level");
  if (level !== null) {
    if (!(LEVELS as readonly string[]).includes(level)) {
      return { kind: "refused", error: `${quoted(level)} is not a log level` };
    }
    filters.level = level as typeof LEVELS[number];
  }
  const q = params.get("q");
  if (q !== null && q !== "") {
    if (q.length > MAX_QUERY) {
      return { kind: "refused", error: `the search is longer than ${MAX_QUERY} characters` };
    }
    filters.q = q;
  }
  return { kind: "app", app, tab: tab as Tab, env, filters };
}

/** The hash of an app's tab, every value percent-encoded. */
export function hashOf(
  app: string,
  tab: Tab = "overview",
  env: string | null = null,
  filters: LogFilters = {},
): string {
  const params = new URLSearchParams();
  if (env) params.set("env", env);
  for (const [name, value] of Object.entries(filters)) {
    if (value !== undefined && value !== "") params.set(name, value);
  }
  const search = params.size > 0 ? `?${params}` : "";
  return `#/apps/${encodeURIComponent(app)}/${tab}${search}`;
}

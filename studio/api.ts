/// <reference lib="dom" />
/**
 * The Studio's API client: the one way the signed-in key leaves sessionStorage (`fetchWithKey`,
 * to `/v1/` of this page's own origin only), JSON calls with the server's error text, and the
 * live log tail read from the SSE stream.
 */
import type { LogEntry } from "../runtime/logs/types.ts";

/** Where the key is kept: sessionStorage, for this tab only. */
const KEY = "fn-studio-key";

/** The signed-in key, or "" when signed out. */
export function signedInKey(): string {
  return sessionStorage.getItem(KEY) ?? "";
}

/** Keeps `key` for this tab (an empty key signs out). */
export function keepKey(key: string): void {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

/** JSON as the API sends it. */
export type Json = Record<string, unknown>;

/**
 * An API path with each interpolated value percent-encoded, so a value is always one path
 * segment (or one query value) whatever it holds. Used as a tag: apiPath`/apps/${app}/kv/${key}`.
 */
export function apiPath(strings: TemplateStringsArray, ...values: Array<string | number>): string {
  let out = strings[0] ?? "";
  values.forEach((value, i) => out += encodeURIComponent(String(value)) + (strings[i + 1] ?? ""));
  return out;
}

/** An API error with the HTTP status it came with (0: refused before sending). */
export class ApiError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

/**
 * The one way the key leaves sessionStorage: a request to `/v1<path>` that, once resolved, is
 * still under `/v1/` of this page's own origin (a `..` or a backslash cannot steer it elsewhere);
 * anything else is refused before it is sent. Redirects are refused too.
 */
export function fetchWithKey(path: string, init: RequestInit = {}): Promise<Response> {
  const url = new URL(`/v1${path}`, location.origin);
  if (!url.href.startsWith(`${location.origin}/v1/`)) {
    return Promise.reject(
      new ApiError(
        `refused to send the API key to ${url.pathname.slice(0, 200)}: the Studio sends it ` +
          `only to ${location.origin}/v1/`,
        0,
      ),
    );
  }
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${signedInKey()}`);
  return fetch(url, { ...init, headers, redirect: "error", credentials: "omit" });
}

/** Calls `/v1<path>` with the signed-in key; throws ApiError with the server's error text. */
export async function api<T = Json>(
  path: string,
  init: { method?: string; json?: unknown; signal?: AbortSignal } = {},
): Promise<T> {
  const response = await fetchWithKey(path, {
    method: init.method ?? (init.json === undefined ? "GET" : "POST"),
    headers: init.json === undefined ? {} : { "content-type": "application/json" },
    ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
    ...(init.signal ? { signal: init.signal } : {}),
  });
  const text = await response.text();
  let body: Json = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    throw new ApiError(`the API answered ${response.status} with a body that is not JSON`, 0);
  }
  if (!response.ok) {
    throw new ApiError(String(body.error ?? `HTTP ${response.status}`), response.status);
  }
  return body as T;
}

/** One runtime log entry, as the logs API returns it (the server's own type). */
export type { LogEntry };

/** A page of log entries, newest first. */
export interface LogPage {
  entries: LogEntry[];
  next_cursor: string | null;
}

/** A deployment as listed (`source_files` only when one is read). */
export interface Deployment {
  id: string;
  app_id: string;
  environment: string;
  created_at: string;
  source: string | null;
  message: string | null;
  deployed_by: string;
  routes: Array<{ pattern: string; file: string }>;
  live: boolean;
  previous: boolean;
  /** npm packages bundled into it by `fn deploy`: name → version (`{}` when none). */
  packages?: Record<string, string>;
  source_files?: Record<string, string>;
}

/** A page of deployments, with each environment's live and previous one. */
export interface DeploymentPage {
  deployments: Deployment[];
  next_cursor: string | null;
  live: Record<string, string>;
  previous: Record<string, string>;
}

/** One point of a metrics series. */
export interface MetricsPoint {
  minute: string;
  requests: number;
  errors: number;
  client_errors?: number;
  p50_ms: number | null;
  p99_ms: number | null;
}

/** An app's metrics: its series and its busiest functions'. */
export interface MetricsSeries {
  step_minutes: number;
  app: MetricsPoint[];
  functions: Record<string, MetricsPoint[]>;
  functions_omitted: number;
  /** False: the figures are this instance's only. */
  shared?: boolean;
}

/**
 * Follows `/v1<path>` (a log stream) until `signal` aborts, calling `onEntry` with each entry;
 * `onOpen` once the tail is subscribed. Resolves when the stream ends (the server closed it).
 */
export async function followLogs(
  path: string,
  signal: AbortSignal,
  onEntry: (entry: LogEntry) => void,
  onOpen: () => void,
): Promise<void> {
  const response = await fetchWithKey(path, { signal });
  if (!response.ok || !response.body) {
    const text = await response.text();
    throw new ApiError(text.slice(0, 500) || `HTTP ${response.status}`, response.status);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  while (true) {
    const { done, value } = await reader.read().catch(() => ({ done: true, value: "" }));
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const lines = event.split("\n");
      const name = lines.find((l) => l.startsWith("event: "))?.slice(7);
      const data = lines.find((l) => l.startsWith("data: "))?.slice(6);
      if (name === "ready") onOpen();
      else if (name === "log" && data) onEntry(JSON.parse(data) as LogEntry);
    }
  }
}

/** The platform API as the CLI calls it: where it is, with which key, and its errors. */
import type { paths } from "./api_types.ts";

/** A refused operation (exit 1) or bad usage/configuration (exit 2). */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: 1 | 2 = 1) {
    super(message);
    this.name = "CliError";
  }
}

/** A failed API call: its message, plus the server's JSON body (a deploy's diagnostics). */
export class ApiError extends CliError {
  constructor(message: string, readonly status: number, readonly body: Record<string, unknown>) {
    super(message);
    this.name = "ApiError";
  }
}

/** Where the CLI's login is kept (FN_CONFIG, or ~/.config/fn/config.json). */
function configPath(): string {
  const explicit = Deno.env.get("FN_CONFIG");
  if (explicit) return explicit;
  const home = Deno.env.get("HOME") ?? ".";
  return `${home}/.config/fn/config.json`;
}

/** The platform to call and the key to call it with. */
export interface Credentials {
  url: string;
  key: string;
  /** Where the key came from, for a 401's message: "FN_API_KEY" or the login file. */
  keySource: string;
}

/** The URL and key: FN_URL and FN_API_KEY, else what `fn login` stored. */
export async function credentials(): Promise<Credentials> {
  const path = configPath();
  let stored: { url?: string; key?: string } = {};
  try {
    stored = JSON.parse(await Deno.readTextFile(path));
  } catch { /* no login yet */ }
  const url = Deno.env.get("FN_URL") ?? stored.url;
  const envKey = Deno.env.get("FN_API_KEY");
  const key = envKey ?? stored.key;
  if (!url || !key) {
    throw new CliError(
      "no platform configured: set FN_URL and FN_API_KEY, or run `fn login --url <url> --key <key>`",
      2,
    );
  }
  const keySource = envKey !== undefined ? "FN_API_KEY" : `the login saved in ${path}`;
  return { url: url.replace(/\/+$/, ""), key, keySource };
}

/** The CLI's error for a response that is not OK, whatever its body (JSON, text, nothing). */
export function responseError(response: Response, text: string, from: Credentials): ApiError {
  let body: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === "object") body = parsed;
  } catch { /* not JSON: shown as text */ }
  const said = typeof body.error === "string"
    ? body.error
    : text.trim().slice(0, 200) || response.statusText;
  const hint = response.status === 401 ? ` (the key from ${from.keySource})` : "";
  return new ApiError(`${response.status}: ${said}${hint}`, response.status, body);
}

/** `fetch` to the platform with the key; an unreachable platform is a CliError naming the URL. */
export async function request(
  from: Credentials,
  path: string,
  init: { method?: string; json?: unknown; signal?: AbortSignal } = {},
): Promise<Response> {
  try {
    return await fetch(`${from.url}/v1${path}`, {
      method: init.method ?? (init.json === undefined ? "GET" : "POST"),
      headers: {
        authorization: `Bearer ${from.key}`,
        ...(init.json === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
      ...(init.signal ? { signal: init.signal } : {}),
    });
  } catch (error) {
    if (init.signal?.aborted) throw error;
    throw new CliError(`cannot reach ${from.url}: ${(error as Error).message}`);
  }
}

/** The API's operations as the CLI names them: `"<METHOD> <path template>"`, e.g. `"GET /v1/apps"`. */
export type Route = {
  [P in keyof paths]: {
    [M in Method]: paths[P][M] extends { responses: unknown } ? `${Uppercase<M>} ${P}` : never;
  }[Method];
}[keyof paths];

type Method = "get" | "put" | "post" | "delete";
type Operation<R extends Route> = R extends `${infer M} ${infer P}`
  ? P extends keyof paths ? Lowercase<M> extends Method ? paths[P][Lowercase<M>] : never : never
  : never;
type JsonOf<T> = T extends { content: { "application/json": infer J } } ? J : never;

/** The JSON a successful call of `R` answers, as the document declares it (`{}` for a 204). */
export type Answer<R extends Route> = Operation<R> extends { responses: infer S }
  ? S extends { 200: infer A } ? JsonOf<A>
  : S extends { 201: infer A } ? JsonOf<A>
  : Record<string, never>
  : never;

/** The JSON body `R` takes, as the document declares it (`undefined` when it takes none). */
export type Body<R extends Route> = Operation<R> extends { requestBody?: infer B } ? JsonOf<B>
  : undefined;

/**
 * Whether `path` (a query string aside) is an instance of the template of `route`: its fixed
 * segments, with anything in place of each parameter.
 */
function matches(route: Route, path: string): boolean {
  const template = route.slice(route.indexOf(" ") + 1);
  const pattern = template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{\w+\}/g, ".+");
  return new RegExp(`^${pattern}(\\?.*)?$`).test(`/v1${path}`);
}

/**
 * Calls `route` at `path` (`/v1` aside, its parameters filled in) and answers the JSON body,
 * typed from the OpenAPI document (cli/api_types.ts), or throws ApiError with the server's
 * error. The route names the method; a path that is not an instance of it is a bug.
 */
export async function api<R extends Route>(
  route: R,
  path: string,
  ...[json]: Body<R> extends undefined ? [] : [json: Body<R>]
): Promise<Answer<R>> {
  if (!matches(route, path)) throw new Error(`${path} is not an instance of ${route}`);
  const from = await credentials();
  const method = route.slice(0, route.indexOf(" "));
  const response = await request(from, path, json === undefined ? { method } : { method, json });
  const text = await response.text();
  if (!response.ok) throw responseError(response, text, from);
  try {
    return (text ? JSON.parse(text) : {}) as Answer<R>;
  } catch {
    throw new CliError(`${from.url} answered something other than JSON: is it the platform?`);
  }
}

/**
 * Checks `key` against the platform at `url` (one listing of apps, which every valid key may
 * read), then stores both in a file only its owner can read (mode 0600). A refused key or an
 * unreachable URL is an error and nothing is saved.
 */
export async function saveLogin(url: string, key: string): Promise<string> {
  let base: string;
  try {
    base = new URL(url).href.replace(/\/+$/, "");
  } catch {
    throw new CliError(`--url must be a URL like http://localhost:8000, got "${url}"`, 2);
  }
  const from = { url: base, key, keySource: "--key" };
  const response = await request(from, "/apps?limit=1");
  const text = await response.text();
  if (!response.ok) {
    throw new CliError(`${responseError(response, text, from).message}; nothing was saved`);
  }
  let listing: unknown;
  try {
    listing = JSON.parse(text);
  } catch { /* checked below */ }
  if (!Array.isArray((listing as { apps?: unknown } | undefined)?.apps)) {
    throw new CliError(`${base} does not answer like the functions platform; nothing was saved`);
  }
  const path = configPath();
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify({ url: base, key }), { mode: 0o600 });
  await Deno.chmod(path, 0o600);
  return path;
}

/** The platform API as the CLI calls it: where it is, with which key, and its errors. */

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

/** Calls `/v1<path>`; answers the JSON body, or throws ApiError with the server's error. */
export async function api<T = Record<string, unknown>>(
  path: string,
  init: { method?: string; json?: unknown } = {},
): Promise<T> {
  const from = await credentials();
  const response = await request(from, path, init);
  const text = await response.text();
  if (!response.ok) throw responseError(response, text, from);
  try {
    return (text ? JSON.parse(text) : {}) as T;
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

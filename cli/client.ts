/** The platform API as the CLI calls it: where it is, with which key, and its errors. */

/** A refused operation (exit 1) or bad usage/configuration (exit 2). */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: 1 | 2 = 1) {
    super(message);
    this.name = "CliError";
  }
}

/** Where the CLI's login is kept (FN_CONFIG, or ~/.config/fn/config.json). */
function configPath(): string {
  const explicit = Deno.env.get("FN_CONFIG");
  if (explicit) return explicit;
  const home = Deno.env.get("HOME") ?? ".";
  return `${home}/.config/fn/config.json`;
}

/** The URL and key: FN_URL and FN_API_KEY, else what `fn login` stored. */
export async function credentials(): Promise<{ url: string; key: string }> {
  let stored: { url?: string; key?: string } = {};
  try {
    stored = JSON.parse(await Deno.readTextFile(configPath()));
  } catch { /* no login yet */ }
  const url = Deno.env.get("FN_URL") ?? stored.url;
  const key = Deno.env.get("FN_API_KEY") ?? stored.key;
  if (!url || !key) {
    throw new CliError(
      "no platform configured: set FN_URL and FN_API_KEY, or run `fn login --url <url> --key <key>`",
      2,
    );
  }
  return { url: url.replace(/\/+$/, ""), key };
}

/** Stores a login in a file only its owner can read (mode 0600). */
export async function saveLogin(url: string, key: string): Promise<string> {
  const path = configPath();
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify({ url, key }), { mode: 0o600 });
  await Deno.chmod(path, 0o600);
  return path;
}

/** Calls `/v1<path>`; answers the JSON body, or throws CliError with the server's error. */
export async function api<T = Record<string, unknown>>(
  path: string,
  init: { method?: string; json?: unknown } = {},
): Promise<T> {
  const { url, key } = await credentials();
  let response: Response;
  try {
    response = await fetch(`${url}/v1${path}`, {
      method: init.method ?? (init.json === undefined ? "GET" : "POST"),
      headers: {
        authorization: `Bearer ${key}`,
        ...(init.json === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
    });
  } catch (error) {
    throw new CliError(`cannot reach ${url}: ${(error as Error).message}`);
  }
  const text = await response.text();
  const body = text ? JSON.parse(text) : {};
  if (!response.ok) {
    const error = new CliError(`${response.status}: ${body.error ?? text}`);
    (error as CliError & { body?: unknown }).body = body;
    throw error;
  }
  return body as T;
}

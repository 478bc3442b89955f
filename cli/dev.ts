/**
 * `fn dev [dir]`: the real platform (same sandbox, limits, KV and logs; embedded stores under
 * `<dir>/.fn`) serving the folder as one app at `http://localhost:<port>/functions/...`. A saved
 * file is redeployed at once; a refused deploy prints its diagnostics with a code frame and the
 * last good deployment keeps serving. The project's npm packages are bundled into each deploy
 * (cli/packages.ts), again only when they change. Every request and console line is printed.
 */
import { loadConfig } from "../runtime/platform/config.ts";
import { devAdminKey } from "../runtime/platform/dev_key.ts";
import type { LogEntry } from "../runtime/logs/types.ts";
import { createPlatform } from "../runtime/platform/platform.ts";
import { createApp } from "../routes/app.ts";
import { CliError } from "./client.ts";
import { PackageBundler } from "./packages.ts";
import { codeFrame, collectFiles, type Diagnostic } from "./project.ts";

const APP = "dev";
const color = (code: number) => (text: string) =>
  Deno.noColor ? text : `\x1b[${code}m${text}\x1b[0m`;
const [red, green, yellow, gray, cyan] = [color(31), color(32), color(33), color(90), color(36)];
const LEVEL_COLOR: Record<string, (text: string) => string> = {
  debug: gray,
  info: (t) => t,
  warn: yellow,
  error: red,
};

function print(entry: LogEntry): void {
  if (entry.type === "request") {
    const status = entry.status ?? 0;
    const paint = status >= 500 ? red : status >= 400 ? yellow : green;
    console.log(`${entry.method} ${entry.path} ${paint(String(status))} ${entry.duration_ms}ms`);
  } else {
    console.log(`  ${(LEVEL_COLOR[entry.level] ?? String)(`[${entry.level}] ${entry.message}`)}`);
  }
}

/** Whether `path` is a file. */
async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** Reads `KEY=VALUE` lines (`#` comments, optional quotes); a missing file is a usage error. */
async function readEnvFile(path: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound ? "no such file" : (error as Error).message;
    throw new CliError(`cannot read the variables file ${path}: ${why}`, 2);
  }
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = line.match(/^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/);
    if (match) out[match[1]!] = match[2]!.replace(/^(['"])(.*)\1$/, "$2");
  }
  return out;
}

/**
 * Runs the dev server until SIGINT/SIGTERM. Its admin key is kept in `<dir>/.fn/admin.key` (the
 * same after a restart) and printed with the Studio's URL. A port in use is a usage error.
 */
export async function dev(dir: string, port: number, envFile?: string): Promise<void> {
  // Without --env-file, the project's own .env when it has one (as vercel dev and wrangler do).
  const ownEnv = `${dir}/.env`;
  const envPath = envFile ?? (await exists(ownEnv) ? ownEnv : undefined);
  const vars = envPath ? await readEnvFile(envPath) : {};
  if (envPath && !envFile) {
    console.log(cyan(`fn dev: loaded ${Object.keys(vars).length} variables from ${ownEnv}`));
  }
  const { key: apiKey } = await devAdminKey(`${dir}/.fn`);
  const config = loadConfig({
    API_KEY: apiKey,
    DATA_DIR: `${dir}/.fn`,
    PORT: String(port),
    HOST: "127.0.0.1",
    DEFAULT_APP: APP,
  });
  const platform = await createPlatform(config);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      port,
      hostname: "127.0.0.1",
      onListen: ({ port }) => {
        platform.listening(port);
        // The app's own host, as in production: cookies and scripts work there. Plain
        // localhost is the platform's host, shared by every app, whose origin rules drop them.
        console.log(
          cyan(
            `fn dev: serving ${dir} as app "${APP}" at http://${APP}.localhost:${port}/functions/...`,
          ),
        );
        console.log(cyan(`Studio: http://localhost:${port}/studio  (key: ${apiKey})`));
      },
    }, createApp(platform).fetch);
  } catch (error) {
    await platform.close();
    if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    throw new CliError(`port ${port} is in use: choose another with --port`, 2);
  }
  const base = `http://127.0.0.1:${server.addr.port}/v1/apps/${APP}`;
  const headers = { authorization: `Bearer ${apiKey}`, "content-type": "application/json" };

  for (const [name, value] of Object.entries(vars)) {
    await fetch(`${base}/environments/production/vars/${name}`, {
      method: "PUT",
      headers,
      body: JSON.stringify({ value }),
    }).then((r) => r.body?.cancel());
  }

  const bundler = new PackageBundler();
  const deploy = async () => {
    let bundled;
    try {
      bundled = await bundler.bundle(dir, await collectFiles(dir));
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      console.log(red(`not deployed (the last good deployment keeps serving):`));
      console.log(error.message);
      return;
    }
    const { files, packages } = bundled;
    const response = await fetch(`${base}/deploy`, {
      method: "POST",
      headers,
      body: JSON.stringify({ source: "fn_dev", message: "fn dev", source_files: files, packages }),
    });
    const body = await response.json();
    if (response.ok) {
      const routes = (body.routes as Array<{ pattern: string }>).map((r) => r.pattern).join(", ");
      console.log(green(`deployed ${body.id}: ${routes}`));
    } else {
      console.log(red(`deploy refused (the last good deployment keeps serving):`));
      for (const d of (body.diagnostics ?? [{ message: body.error }]) as Diagnostic[]) {
        console.log(codeFrame(d, files));
      }
    }
  };
  await deploy();

  const abort = new AbortController();
  void (async () => {
    for await (const entry of platform.logs.tail(APP, abort.signal)) print(entry);
  })().catch(() => {});

  const watcher = Deno.watchFs(dir, { recursive: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = async () => {
    abort.abort();
    watcher.close();
    await server.shutdown();
    await platform.close();
    Deno.exit(0);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, stop);
  for await (const event of watcher) {
    // deno.lock: resolving the packages pins them there, which is no change of the code.
    const ignored = (p: string) =>
      p.includes("/.fn/") || p.includes("/.git/") || p.endsWith("/deno.lock");
    if (event.paths.every(ignored)) continue;
    clearTimeout(timer);
    timer = setTimeout(() => void deploy(), 30);
  }
}

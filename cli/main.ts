/**
 * `deno task fn <command>`: the developer workflow. Exit codes: 0 success, 1 a refused
 * operation, 2 bad usage or configuration. Every command answers `--help`.
 */
import { parseArgs } from "node:util";
import { api, CliError, credentials, saveLogin } from "./client.ts";
import { dev } from "./dev.ts";
import { init } from "./init.ts";
import { codeFrame, collectFiles, type Diagnostic, localProblems } from "./project.ts";

interface Command {
  usage: string;
  summary: string;
  options?: Record<string, { type: "string" | "boolean"; short?: string }>;
  run(positionals: string[], flags: Record<string, string | boolean | undefined>): Promise<void>;
}

const APP = { app: { type: "string" as const, short: "a" } };
const ENV = { env: { type: "string" as const, short: "e" } };

function need(flags: Record<string, unknown>, name: string): string {
  const value = flags[name];
  if (typeof value !== "string" || value === "") throw new CliError(`--${name} is required`, 2);
  return value;
}

function arg(positionals: string[], index: number, what: string): string {
  const value = positionals[index];
  if (!value) throw new CliError(`missing ${what}`, 2);
  return value;
}

/** A folder argument, relative to where the user ran the command (`deno task` moves the cwd). */
function folder(positionals: string[]): string {
  const dir = positionals[0] ?? ".";
  if (dir.startsWith("/")) return dir;
  const from = Deno.env.get("INIT_CWD") ?? Deno.cwd();
  return dir === "." ? from : `${from}/${dir}`;
}

const envOf = (flags: Record<string, unknown>) =>
  typeof flags.env === "string" ? flags.env : "production";

const COMMANDS: Record<string, Command> = {
  login: {
    usage: "fn login --url <platform URL> --key <API key>",
    summary: "store the platform's URL and an API key (in a file of mode 0600)",
    options: { url: { type: "string" }, key: { type: "string" } },
    async run(_, flags) {
      const path = await saveLogin(need(flags, "url"), need(flags, "key"));
      console.log(`saved to ${path}`);
    },
  },
  init: {
    usage: "fn init [dir]",
    summary: "scaffold a functions project (routes, a lib module, handler types, deno.json)",
    async run(positionals) {
      const dir = folder(positionals);
      for (const file of await init(dir)) console.log(`created ${dir}/${file}`);
      console.log(`next: deno task fn dev ${dir}`);
    },
  },
  dev: {
    usage: "fn dev [dir] [--port 8000] [--env-file .env]",
    summary: "serve the project locally on the real platform, redeploying on every save",
    options: { port: { type: "string", short: "p" }, "env-file": { type: "string" } },
    async run(positionals, flags) {
      const port = Number(flags.port ?? 8000);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new CliError("--port must be a port number", 2);
      }
      const envFile = typeof flags["env-file"] === "string" ? flags["env-file"] : undefined;
      await dev(folder(positionals), port, envFile);
    },
  },
  deploy: {
    usage: "fn deploy [dir] --app <app> [--env production] [--message <text>]",
    summary: "deploy the project's files and print its routes",
    options: { ...APP, ...ENV, message: { type: "string", short: "m" } },
    async run(positionals, flags) {
      const app = need(flags, "app");
      const files = await collectFiles(folder(positionals));
      const problems = localProblems(files);
      if (problems.length > 0) throw new CliError(problems.join("\n"));
      const bytes = Object.values(files).reduce((n, t) => n + t.length, 0);
      console.log(`deploying ${Object.keys(files).length} files (${bytes} bytes) to ${app}:`);
      for (const path of Object.keys(files).sort()) console.log(`  ${path}`);
      try {
        const body = await api<{ id: string; routes: Array<{ pattern: string; file: string }> }>(
          `/apps/${app}/deploy`,
          {
            json: {
              source: "cli_upload",
              environment: envOf(flags),
              message: typeof flags.message === "string" ? flags.message : null,
              source_files: files,
            },
          },
        );
        console.log(`deployed ${body.id} to ${envOf(flags)}`);
        const { url } = await credentials();
        const prefix = envOf(flags) === "production"
          ? `${url}/apps/${app}`
          : `${url}/apps/${app}/env/${envOf(flags)}`;
        for (const route of body.routes) {
          console.log(`  ${route.pattern.padEnd(30)} ${prefix}${route.pattern}  (${route.file})`);
        }
      } catch (error) {
        const diagnostics = (error as { body?: { diagnostics?: Diagnostic[] } }).body?.diagnostics;
        if (!diagnostics) throw error;
        throw new CliError(
          ["deploy refused:", ...diagnostics.map((d) => codeFrame(d, files))].join("\n"),
        );
      }
    },
  },
  logs: {
    usage: "fn logs --app <app> [--env E] [--follow] [--level L] [--function F] [--request-id R]",
    summary: "show an app's runtime logs, or follow them live",
    options: {
      ...APP,
      ...ENV,
      follow: { type: "boolean", short: "f" },
      level: { type: "string" },
      function: { type: "string" },
      "request-id": { type: "string" },
    },
    async run(_, flags) {
      const app = need(flags, "app");
      const query = new URLSearchParams();
      if (typeof flags.level === "string") query.set("level", flags.level);
      if (typeof flags.function === "string") query.set("function", flags.function);
      if (typeof flags["request-id"] === "string") query.set("request_id", flags["request-id"]);
      if (flags.follow) {
        await follow(app, query);
        return;
      }
      const page = await api<{ entries: Array<Record<string, unknown>> }>(
        `/apps/${app}/logs?${query}`,
      );
      for (const entry of page.entries.reverse()) console.log(formatEntry(entry));
    },
  },
  deployments: {
    usage: "fn deployments --app <app> [--env E]",
    summary: "list an app's deployments, newest first, marking the live and the previous one",
    options: { ...APP, ...ENV },
    async run(_, flags) {
      const app = need(flags, "app");
      const env = typeof flags.env === "string"
        ? `&environment=${encodeURIComponent(flags.env)}`
        : "";
      const page = await api<
        { deployments: Array<Record<string, string | boolean | null>> }
      >(`/apps/${encodeURIComponent(app)}/deployments?limit=100${env}`);
      for (const d of page.deployments) {
        const mark = d.live ? "live    " : d.previous ? "previous" : "        ";
        console.log(
          `${d.id}  ${d.environment}  ${mark}  ${d.created_at}  ${d.deployed_by}  ${
            d.message ?? ""
          }`,
        );
      }
    },
  },
  rollback: {
    usage: "fn rollback [deployment id] --app <app> [--env E]",
    summary: "make a deployment live again; with no id, the previous one (live before this one)",
    options: { ...APP, ...ENV },
    async run(positionals, flags) {
      const app = need(flags, "app");
      const body = await api<{ id: string }>(
        `/apps/${encodeURIComponent(app)}/environments/${
          encodeURIComponent(envOf(flags))
        }/rollback`,
        { json: positionals[0] ? { deployment_id: positionals[0] } : {} },
      );
      console.log(`${body.id} is live in ${envOf(flags)}`);
    },
  },
  env: {
    usage: "fn env set <NAME> <value> | ls | rm <NAME>  --app <app> [--env E]\n" +
      "  fn env delete --app <app> --env <E>",
    summary: "manage an environment's variables (values are write-only); delete a non-production " +
      "environment with its deployments, variables and cron jobs (admin key only)",
    options: { ...APP, ...ENV },
    async run(positionals, flags) {
      const app = need(flags, "app");
      const base = `/apps/${app}/environments/${envOf(flags)}/vars`;
      const action = arg(positionals, 0, "set, ls, rm or delete");
      if (action === "delete") {
        // Named explicitly: the default environment is production, which cannot be deleted.
        const env = need(flags, "env");
        await api(`/apps/${encodeURIComponent(app)}/environments/${encodeURIComponent(env)}`, {
          method: "DELETE",
        });
        console.log(`environment ${env} of ${app} deleted (the app's KV is kept)`);
        return;
      }
      if (action === "set") {
        const name = arg(positionals, 1, "the variable name");
        await api(`${base}/${name}`, {
          method: "PUT",
          json: { value: arg(positionals, 2, "the value") },
        });
        console.log(`${name} set in ${envOf(flags)}`);
      } else if (action === "ls") {
        const { vars } = await api<
          { vars: Array<{ name: string; preview: string; updated_at: string }> }
        >(base);
        for (const v of vars) console.log(`${v.name.padEnd(30)} ${v.preview}  ${v.updated_at}`);
      } else if (action === "rm") {
        const name = arg(positionals, 1, "the variable name");
        await api(`${base}/${name}`, { method: "DELETE" });
        console.log(`${name} removed`);
      } else throw new CliError(`unknown env action "${action}": set, ls, rm or delete`, 2);
    },
  },
  keys: {
    usage: "fn keys create | ls | revoke <key id>  --app <app>",
    summary: "manage an app's API keys (admin key only)",
    options: APP,
    async run(positionals, flags) {
      const app = need(flags, "app");
      const action = arg(positionals, 0, "create, ls or revoke");
      if (action === "create") {
        const key = await api<Record<string, string>>(`/apps/${app}/keys`, { method: "POST" });
        console.log(`${key.id}\n${key.key}\n(shown once: store it now)`);
      } else if (action === "ls") {
        const { keys } = await api<{ keys: Array<Record<string, string>> }>(`/apps/${app}/keys`);
        for (const k of keys) console.log(`${k.id}  ${k.created_at}`);
      } else if (action === "revoke") {
        const id = arg(positionals, 1, "the key id");
        await api(`/apps/${app}/keys/${id}`, { method: "DELETE" });
        console.log(`${id} revoked`);
      } else throw new CliError(`unknown keys action "${action}": create, ls or revoke`, 2);
    },
  },
  kv: {
    usage: "fn kv get <key> | set <key> <value> | ls [prefix] | rm <key>  --app <app>",
    summary: "read and write an app's KV store",
    options: APP,
    async run(positionals, flags) {
      const app = need(flags, "app");
      const action = arg(positionals, 0, "get, set, ls or rm");
      const key = () => encodeURIComponent(arg(positionals, 1, "the key"));
      if (action === "get") {
        console.log((await api<{ value: string }>(`/apps/${app}/kv/${key()}`)).value);
      } else if (action === "set") {
        await api(`/apps/${app}/kv/${key()}`, {
          method: "PUT",
          json: { value: arg(positionals, 2, "the value") },
        });
        console.log("set");
      } else if (action === "rm") {
        await api(`/apps/${app}/kv/${key()}`, { method: "DELETE" });
        console.log("removed");
      } else if (action === "ls") {
        let cursor: string | null = null;
        do {
          const query = new URLSearchParams({ prefix: positionals[1] ?? "", limit: "1000" });
          if (cursor) query.set("cursor", cursor);
          const page = await api<{ keys: string[]; cursor: string | null }>(
            `/apps/${app}/kv?${query}`,
          );
          for (const k of page.keys) console.log(k);
          cursor = page.cursor;
        } while (cursor);
      } else throw new CliError(`unknown kv action "${action}": get, set, ls or rm`, 2);
    },
  },
  schedules: {
    usage: "fn schedules [pause | resume]  --app <app>",
    summary: "list an app's cron jobs (next run, last outcome), or pause or resume all of them",
    options: APP,
    async run(positionals, flags) {
      const app = encodeURIComponent(need(flags, "app"));
      const action = positionals[0] ?? "ls";
      if (action === "pause" || action === "resume") {
        await api(`/apps/${app}/schedules/${action}`, { method: "POST" });
        console.log(action === "pause" ? "schedules paused" : "schedules resumed");
        return;
      }
      if (action !== "ls") {
        throw new CliError(`unknown schedules action "${action}": pause or resume`, 2);
      }
      const listing = await api<{
        paused: boolean;
        schedules: Array<{
          function: string;
          environment: string;
          cron: string;
          next_run: string | null;
          history: Array<{ outcome: string }>;
        }>;
      }>(`/apps/${app}/schedules`);
      if (listing.paused) console.log("paused: no scheduled run starts until resumed");
      for (const job of listing.schedules) {
        console.log(
          `${job.environment}  ${job.function}  ${job.cron}  next ${job.next_run ?? "-"}  ` +
            `last ${job.history[0]?.outcome ?? "-"}`,
        );
      }
    },
  },
};

function formatEntry(entry: Record<string, unknown>): string {
  const head = `${entry.time} ${String(entry.level).padEnd(5)} ${entry.request_id ?? "-"}`;
  return `${head} ${entry.function ?? ""} ${entry.message}`;
}

/** Prints new entries as they arrive (the SSE live tail), until interrupted. */
async function follow(app: string, query: URLSearchParams): Promise<void> {
  const { url, key } = await credentials();
  const response = await fetch(`${url}/v1/apps/${app}/logs/stream?${query}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  if (!response.ok) throw new CliError(`${response.status}: ${await response.text()}`);
  let buffer = "";
  for await (const chunk of response.body!.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.split("\n").find((line) => line.startsWith("data: "));
      if (event.includes("event: log") && data) console.log(formatEntry(JSON.parse(data.slice(6))));
    }
  }
}

function help(): string {
  const lines = Object.values(COMMANDS).map((c) => `  ${c.usage}\n      ${c.summary}`);
  return `fn: the functions platform's CLI (FN_URL and FN_API_KEY, or fn login)\n\n${
    lines.join("\n")
  }\n`;
}

async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(help());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    console.error(`${(error as Error).message}\nusage: ${command.usage}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(`usage: ${command.usage}\n  ${command.summary}`);
    return 0;
  }
  try {
    await command.run(parsed.positionals, parsed.values as Record<string, string | boolean>);
    return 0;
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    console.error(error.message);
    if (error.exitCode === 2) console.error(`usage: ${command.usage}`);
    return error.exitCode;
  }
}

Deno.exit(await main(Deno.args));

/**
 * `deno task fn <command>`: the developer workflow. Exit codes: 0 success, 1 a refused
 * operation, 2 bad usage or configuration. Every command answers `--help`.
 */
import { parseArgs } from "node:util";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { api, CliError, credentials, saveLogin } from "./client.ts";
import { dev } from "./dev.ts";
import { follow } from "./follow.ts";
import { init } from "./init.ts";
import { bundledSummary, PackageBundler } from "./packages.ts";
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

/** The platform's checkout, when the CLI runs from one (not from a published URL). */
const CHECKOUT = import.meta.url.startsWith("file:")
  ? fileURLToPath(new URL("..", import.meta.url))
  : null;

/**
 * Where the user ran the command. `deno task fn` in the platform's checkout moves the working
 * directory there and passes the user's in INIT_CWD; anywhere else (an installed `fn`, a
 * project's own `deno task dev`) the working directory is the user's.
 */
function userCwd(): string {
  const init = Deno.env.get("INIT_CWD");
  return init && CHECKOUT && resolve(Deno.cwd()) === resolve(CHECKOUT) ? init : Deno.cwd();
}

/** A path argument, relative to where the user ran the command. */
function fromUser(path: string): string {
  return resolve(userCwd(), path);
}

/** A folder argument (default: the current one). */
function folder(positionals: string[]): string {
  return fromUser(positionals[0] ?? ".");
}

/** The project folder `fn dev` or `fn deploy` was given; a file or a missing path is bad usage. */
async function projectFolder(positionals: string[], command: string): Promise<string> {
  const given = positionals[0] ?? ".";
  const dir = folder(positionals);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch {
    throw new CliError(`${given}: no such folder (fn ${command} takes the project's folder)`, 2);
  }
  if (!info.isDirectory) {
    // For a file under api/, the project is the folder holding api/.
    const parts = given.split("/");
    const api = parts.lastIndexOf("api");
    const project = api >= 0 ? parts.slice(0, api).join("/") || "." : dirname(given);
    throw new CliError(
      `${given} is a file: fn ${command} takes the project's folder, the one holding api/ ` +
        `(fn ${command} ${project})`,
      2,
    );
  }
  return dir;
}

/** Whether an `fn` command is on PATH (the global install), for `fn init`'s hint. */
function fnOnPath(): boolean {
  return (Deno.env.get("PATH") ?? "").split(":").some((dir) => {
    try {
      return dir !== "" && Deno.statSync(`${dir}/fn`).isFile;
    } catch {
      return false;
    }
  });
}

/** A `--ttl` or `--port` value: a whole number from `min` (to `max`, when there is one). */
function wholeNumber(raw: unknown, name: string, min: number, max?: number): number {
  const value = Number(raw);
  if (
    typeof raw !== "string" || !/^\d+$/.test(raw) || value < min ||
    (max !== undefined && value > max)
  ) {
    const range = max === undefined ? `of at least ${min}` : `from ${min} to ${max}`;
    throw new CliError(`--${name} must be a whole number ${range}, got "${raw}"`, 2);
  }
  return value;
}

const envOf = (flags: Record<string, unknown>) =>
  typeof flags.env === "string" ? flags.env : "production";

const COMMANDS: Record<string, Command> = {
  login: {
    usage: "fn login --url <platform URL> --key <API key>",
    summary: "check an API key against the platform, then store both (in a file of mode 0600)",
    options: { url: { type: "string" }, key: { type: "string" } },
    async run(_, flags) {
      const path = await saveLogin(need(flags, "url"), need(flags, "key"));
      console.log(`key accepted by ${need(flags, "url")}; saved to ${path}`);
    },
  },
  init: {
    usage: "fn init [dir]",
    summary: "scaffold a functions project (routes, a lib module, handler types, deno.json)",
    async run(positionals) {
      const dir = folder(positionals);
      for (const file of await init(dir)) console.log(`created ${dir}/${file}`);
      if (!fnOnPath() && CHECKOUT) {
        console.log(
          `install fn first: deno install -g -A -n fn --config ${CHECKOUT}deno.json ` +
            `${CHECKOUT}cli/main.ts`,
        );
      }
      console.log(`next: cd ${dir} && deno task dev   (fn dev; deno task deploy: fn deploy)`);
    },
  },
  dev: {
    usage: "fn dev [dir] [--port 8001] [--env-file <file>, default: the project's .env]",
    summary: "serve the project locally on the real platform, redeploying on every save",
    options: { port: { type: "string", short: "p" }, "env-file": { type: "string" } },
    async run(positionals, flags) {
      // Not 8000: that is the platform's own `deno task dev`, often running beside it.
      const port = wholeNumber(flags.port ?? "8001", "port", 0, 65535);
      const envFile = typeof flags["env-file"] === "string"
        ? fromUser(flags["env-file"])
        : undefined;
      await dev(await projectFolder(positionals, "dev"), port, envFile);
    },
  },
  deploy: {
    usage: "fn deploy [dir] --app <app> [--env production] [--message <text>]",
    summary: "deploy the project's files and print its routes",
    options: { ...APP, ...ENV, message: { type: "string", short: "m" } },
    async run(positionals, flags) {
      const app = need(flags, "app");
      const dir = await projectFolder(positionals, "deploy");
      const own = await collectFiles(dir);
      const problems = localProblems(own);
      if (problems.length > 0) throw new CliError(problems.join("\n"));
      const bytes = Object.values(own).reduce((n, t) => n + t.length, 0);
      const count = Object.keys(own).length;
      console.log(`deploying ${count} file${count === 1 ? "" : "s"} (${bytes} bytes) to ${app}:`);
      for (const path of Object.keys(own).sort()) console.log(`  ${path}`);
      const { files, packages } = await new PackageBundler().bundle(dir, own);
      if (Object.keys(packages).length > 0) console.log(bundledSummary(own, files, packages));
      try {
        const body = await api("POST /v1/apps/{appId}/deploy", `/apps/${app}/deploy`, {
          source: "cli_upload",
          environment: envOf(flags),
          message: typeof flags.message === "string" ? flags.message : null,
          source_files: files,
          packages,
        });
        console.log(`deployed ${body.id} to ${envOf(flags)}`);
        // The app's own host, where responses keep their cookies and pages their scripts (the
        // shared /apps/<app> form on the platform's host drops them); an older server's answer
        // has no url: the shared form then.
        const { url } = await credentials();
        const prefix = body.url ??
          (envOf(flags) === "production"
            ? `${url}/apps/${app}`
            : `${url}/apps/${app}/env/${envOf(flags)}`);
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
      if (flags.follow) await follow(app, query, (entry) => console.log(formatEntry(entry)));
      const page = await api("GET /v1/apps/{appId}/logs", `/apps/${app}/logs?${query}`);
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
      const page = await api(
        "GET /v1/apps/{appId}/deployments",
        `/apps/${encodeURIComponent(app)}/deployments?limit=100${env}`,
      );
      for (const d of page.deployments) {
        const mark = d.live ? "live    " : d.previous ? "previous" : "        ";
        const packages = Object.entries(d.packages ?? {}).map(([n, v]) => `${n}@${v}`);
        console.log(
          `${d.id}  ${d.environment}  ${mark}  ${d.created_at}  ${d.deployed_by}  ${
            d.message ?? ""
          }${packages.length > 0 ? `  [${packages.join(" ")}]` : ""}`,
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
      const body = await api(
        "POST /v1/apps/{appId}/environments/{env}/rollback",
        `/apps/${encodeURIComponent(app)}/environments/${
          encodeURIComponent(envOf(flags))
        }/rollback`,
        positionals[0] ? { deployment_id: positionals[0] } : {},
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
        await api(
          "DELETE /v1/apps/{appId}/environments/{env}",
          `/apps/${encodeURIComponent(app)}/environments/${encodeURIComponent(env)}`,
        );
        console.log(`environment ${env} of ${app} deleted (the app's KV is kept)`);
        return;
      }
      if (action === "set") {
        const name = arg(positionals, 1, "the variable name");
        await api("PUT /v1/apps/{appId}/environments/{env}/vars/{name}", `${base}/${name}`, {
          value: arg(positionals, 2, "the value"),
        });
        console.log(`${name} set in ${envOf(flags)}`);
      } else if (action === "ls") {
        const { vars } = await api("GET /v1/apps/{appId}/environments/{env}/vars", base);
        if (vars.length === 0) console.log(`no variables in ${envOf(flags)}`);
        for (const v of vars) console.log(`${v.name.padEnd(30)} ${v.preview}  ${v.updated_at}`);
      } else if (action === "rm") {
        const name = arg(positionals, 1, "the variable name");
        await api("DELETE /v1/apps/{appId}/environments/{env}/vars/{name}", `${base}/${name}`);
        console.log(`${name} removed`);
      } else throw new CliError(`unknown env action "${action}": set, ls, rm or delete`, 2);
    },
  },
  keys: {
    usage: "fn keys create [--name <label>] | ls | revoke <key id>  --app <app>",
    summary: "manage an app's API keys (admin key only); a name labels a key in listings",
    options: { ...APP, name: { type: "string" } },
    async run(positionals, flags) {
      const app = need(flags, "app");
      const action = arg(positionals, 0, "create, ls or revoke");
      if (action === "create") {
        const name = typeof flags.name === "string"
          ? `?name=${encodeURIComponent(flags.name)}`
          : "";
        const key = await api("POST /v1/apps/{appId}/keys", `/apps/${app}/keys${name}`);
        const label = key.name ? ` (${key.name})` : "";
        console.log(`${key.id}${label}\n${key.key}\n(shown once: store it now)`);
      } else if (action === "ls") {
        const { keys } = await api("GET /v1/apps/{appId}/keys", `/apps/${app}/keys`);
        if (keys.length === 0) console.log(`no keys for ${app}`);
        for (const k of keys) console.log(`${k.id}  ${k.created_at}  ${k.name ?? ""}`.trimEnd());
      } else if (action === "revoke") {
        const id = arg(positionals, 1, "the key id");
        await api("DELETE /v1/apps/{appId}/keys/{id}", `/apps/${app}/keys/${id}`);
        console.log(`${id} revoked`);
      } else throw new CliError(`unknown keys action "${action}": create, ls or revoke`, 2);
    },
  },
  kv: {
    usage:
      "fn kv get <key> | set <key> <value> [--ttl <seconds>] | ls [prefix] | rm <key>  --app <app>",
    summary: "read and write an app's KV store (set without --ttl keeps a key's expiry)",
    options: { ...APP, ttl: { type: "string" } },
    async run(positionals, flags) {
      const app = need(flags, "app");
      const action = arg(positionals, 0, "get, set, ls or rm");
      const key = () => encodeURIComponent(arg(positionals, 1, "the key"));
      if (action === "get") {
        console.log((await api("GET /v1/apps/{appId}/kv/{key}", `/apps/${app}/kv/${key()}`)).value);
      } else if (action === "set") {
        await api("PUT /v1/apps/{appId}/kv/{key}", `/apps/${app}/kv/${key()}`, {
          value: arg(positionals, 2, "the value"),
          ...(flags.ttl === undefined ? {} : { ttl: wholeNumber(flags.ttl, "ttl", 1) }),
        });
        console.log(flags.ttl === undefined ? "set" : `set, expiring in ${flags.ttl} s`);
      } else if (action === "rm") {
        await api("DELETE /v1/apps/{appId}/kv/{key}", `/apps/${app}/kv/${key()}`);
        console.log("removed");
      } else if (action === "ls") {
        let cursor: string | null = null;
        do {
          const query = new URLSearchParams({ prefix: positionals[1] ?? "", limit: "1000" });
          if (cursor) query.set("cursor", cursor);
          const page = await api("GET /v1/apps/{appId}/kv", `/apps/${app}/kv?${query}`);
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
        await api(`POST /v1/apps/{appId}/schedules/${action}`, `/apps/${app}/schedules/${action}`);
        console.log(action === "pause" ? "schedules paused" : "schedules resumed");
        return;
      }
      if (action !== "ls") {
        throw new CliError(`unknown schedules action "${action}": pause or resume`, 2);
      }
      const listing = await api("GET /v1/apps/{appId}/schedules", `/apps/${app}/schedules`);
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

/**
 * Prints an error the one way every command does (`error: …`, then the usage for bad usage)
 * and answers the exit code. An error that is not the CLI's own (a bug, or something the CLI
 * did not foresee) prints its message too; FN_DEBUG=1 adds its stack.
 */
function failed(error: unknown, usage: string): 1 | 2 {
  if (error instanceof CliError) {
    console.error(`error: ${error.message}`);
    if (error.exitCode === 2) console.error(`usage: ${usage}`);
    return error.exitCode;
  }
  const debug = Deno.env.get("FN_DEBUG") === "1";
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  console.error(`error: ${message}${debug ? "" : " (FN_DEBUG=1 shows where)"}`);
  if (debug && error instanceof Error) console.error(error.stack);
  return 1;
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
    console.error(`error: unknown command "${name}"\n\n${help()}`);
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
    return failed(new CliError((error as Error).message, 2), command.usage);
  }
  if (parsed.values.help) {
    console.log(`usage: ${command.usage}\n  ${command.summary}`);
    return 0;
  }
  try {
    await command.run(parsed.positionals, parsed.values as Record<string, string | boolean>);
    return 0;
  } catch (error) {
    return failed(error, command.usage);
  }
}

Deno.exit(await main(Deno.args));

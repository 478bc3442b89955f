/** The `fn` CLI, driven as a subprocess against real servers. */
import assert from "node:assert/strict";
import {
  API_KEY,
  appId,
  freePort,
  json,
  rawHttp,
  serverTest,
  waitFor,
  type WatchedProcess,
  watchProcess,
} from "./helpers.ts";

const CLI = new URL("../cli/main.ts", import.meta.url).pathname;

/** Runs `fn <args>` to completion; answers its exit code and output. */
async function fn(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env: { NO_COLOR: "1", FN_CONFIG: "/nonexistent/fn.json", ...env },
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** A long-running `fn` (dev, logs --follow) whose output is collected as it comes. */
function spawnFn(args: string[], env: Record<string, string> = {}): WatchedProcess {
  return watchProcess(["run", "-A", CLI, ...args], {
    env: { NO_COLOR: "1", FN_CONFIG: "/nonexistent/fn.json", ...env },
  });
}

Deno.test("fn --help and every command's --help exit 0; a bad flag or no login exits 2", async () => {
  const help = await fn(["--help"]);
  assert.equal(help.code, 0);
  for (
    const command of [
      "init",
      "dev",
      "deploy",
      "logs",
      "deployments",
      "rollback",
      "env",
      "keys",
      "kv",
    ]
  ) {
    assert.match(help.stdout, new RegExp(`fn ${command}`));
    const one = await fn([command, "--help"]);
    assert.equal(one.code, 0, command);
    assert.match(one.stdout, /usage: fn /);
  }
  const bad = await fn(["deploy", "--bogus"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Unknown option '--bogus'/);
  const unconfigured = await fn(["deployments", "--app", "x"]);
  assert.equal(unconfigured.code, 2);
  assert.match(unconfigured.stderr, /set FN_URL and FN_API_KEY, or run `fn login/);
});

Deno.test({
  name: "fn init, then fn dev serves the project, redeploys on save, and keeps the last good code",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "fn-project-" });
    const init = await fn(["init", dir]);
    assert.equal(init.code, 0, init.stderr);
    for (
      const file of [
        "api/hello.ts",
        "api/users/[id].ts",
        "lib/greeting.ts",
        "fn.d.ts",
        "deno.json",
        ".fnignore",
      ]
    ) {
      await Deno.stat(`${dir}/${file}`);
    }
    await Deno.writeTextFile(`${dir}/.env`, 'GREETING="from the env file"\n# a comment\n');
    await Deno.writeTextFile(
      `${dir}/api/env.ts`,
      "export default (ctx) => ({ body: { greeting: ctx.env.GREETING ?? null } });\n",
    );
    const port = freePort();
    // No --env-file: the project's own .env is loaded.
    const dev = spawnFn(["dev", dir, "--port", String(port)]);
    try {
      const url = `http://127.0.0.1:${port}/functions`;
      await waitFor(
        "fn dev to serve",
        async () => (await fetch(`${url}/hello?who=ada`)).ok,
        30_000,
      );
      // The Studio's URL and the key, which is kept in .fn/admin.key (the same after a restart).
      const studio = dev.output().match(
        new RegExp(`Studio: http://localhost:${port}/studio  \\(key: (\\S+)\\)`),
      );
      assert.ok(studio, dev.output());
      assert.match(dev.output(), /fn dev: loaded 1 variables from .*\/\.env/);
      assert.equal((await Deno.readTextFile(`${dir}/.fn/admin.key`)).trim(), studio[1]);
      // The URL printed is the app's own host (as in production), where responses keep their
      // cookies; plain localhost is the platform's shared host.
      assert.match(
        dev.output(),
        new RegExp(`serving .* as app "dev" at http://dev\\.localhost:${port}/functions/\\.\\.\\.`),
      );
      const ownHost = await rawHttp(
        url,
        `GET /functions/hello?who=ada HTTP/1.1\r\nhost: dev.localhost:${port}\r\nconnection: close\r\n\r\n`,
      );
      assert.equal(ownHost.status, 200);
      assert.equal(ownHost.headers["content-security-policy"], undefined, "not sandboxed there");
      const apps = await fetch(`http://127.0.0.1:${port}/v1/apps`, {
        headers: { authorization: `Bearer ${studio[1]}` },
      });
      assert.equal((await json<{ apps: unknown[] }>(apps, 200)).apps.length, 1);
      assert.deepEqual(await json(await fetch(`${url}/hello?who=ada`), 200), {
        message: "Hello, ada!",
      });
      assert.deepEqual((await json(await fetch(`${url}/users/7`), 200)).visits, 1);
      assert.deepEqual(await json(await fetch(`${url}/env`), 200), {
        greeting: "from the env file",
      });
      // A saved file is served on the next requests.
      const saved = performance.now();
      await Deno.writeTextFile(
        `${dir}/lib/greeting.ts`,
        "export function greeting(who: string): string { return `Hi, ${who}.`; }\n",
      );
      await waitFor("the edit to be served", async () => {
        const body = await json(await fetch(`${url}/hello?who=ada`), 200);
        return body.message === "Hi, ada.";
      }, 10_000);
      console.log(`edit served after ${Math.round(performance.now() - saved)} ms`);
      // A syntax error prints a code frame, and the last good deployment keeps serving.
      await Deno.writeTextFile(`${dir}/api/hello.ts`, "export default () => ({ body: 1 ;\n");
      await waitFor(
        "the refusal with its code frame",
        () =>
          Promise.resolve(
            /deploy refused[\s\S]*api\/hello\.ts:1:\d+[\s\S]*\|\s+\^/.test(dev.output()),
          ),
        10_000,
      );
      assert.deepEqual(await json(await fetch(`${url}/hello?who=ada`), 200), {
        message: "Hi, ada.",
      });
      // Requests and console lines are printed.
      assert.match(dev.output(), /GET \/functions\/hello 200 [\d.]+ms/);
      assert.match(dev.output(), /\[info\] user 7 visit 1/);
    } finally {
      await dev.kill("SIGTERM");
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("handler types: the examples check, and a wrong return type fails the check", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fn-types-" });
  try {
    assert.equal((await fn(["init", dir])).code, 0);
    await Deno.writeTextFile(
      `${dir}/api/wrong.ts`,
      `import type { Handler } from "../fn.d.ts";\nconst h: Handler = () => ({ status: "ok" });\nexport default h;\n`,
    );
    // A webhook check over the raw bytes, as the README shows it, type-checks as written.
    await Deno.writeTextFile(
      `${dir}/api/webhook.ts`,
      `import type { Handler } from "../fn.d.ts";
const h: Handler = async (ctx) => {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode("s"), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, ctx.req.rawBody));
  return { body: { bytes: mac.length } };
};
export default h;
`,
    );
    const check = (file: string) =>
      new Deno.Command(Deno.execPath(), { args: ["check", file], cwd: dir }).output();
    for (const good of ["api/hello.ts", "api/users/[id].ts", "api/webhook.ts"]) {
      const result = await check(good);
      assert.equal(result.code, 0, new TextDecoder().decode(result.stderr));
    }
    const wrong = await check("api/wrong.ts");
    assert.notEqual(wrong.code, 0);
    assert.match(
      new TextDecoder().decode(wrong.stderr),
      /Type 'string' is not assignable to type 'number'/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

serverTest("GET /v1/types.d.ts serves the handler types fn init writes", async (s) => {
  const response = await fetch(`${s.url}/v1/types.d.ts`);
  assert.equal(response.status, 200);
  const text = await response.text();
  assert.match(text, /export interface Ctx/);
  assert.equal(
    text,
    await Deno.readTextFile(new URL("../runtime/sandbox/ctx.ts", import.meta.url)),
  );
});

serverTest(
  "fn deploy, env, logs --follow, deployments and rollback against a server",
  async (s) => {
    const env = { FN_URL: s.url, FN_API_KEY: API_KEY };
    const app = appId("cli");
    const dir = await Deno.makeTempDir({ prefix: "fn-deploy-" });
    try {
      await Deno.mkdir(`${dir}/api`);
      const version = (n: number) =>
        Deno.writeTextFile(
          `${dir}/api/v.ts`,
          `export default (ctx) => { console.log("served v${n}"); return { body: { v: ${n}, greeting: ctx.env.GREETING ?? null } }; };`,
        );
      await version(1);
      const first = await fn(["deploy", dir, "--app", app, "--message", "one"], env);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /deployed (dpl_\w+) to production/);
      // The URLs printed are the app's own host (BASE_DOMAIN is localhost), on the server's port.
      const port = new URL(s.url).port;
      assert.match(
        first.stdout,
        new RegExp(`/functions/v +http://${app}\\.localhost:${port}/functions/v`),
      );
      const firstId = first.stdout.match(/deployed (dpl_\w+)/)![1]!;
      await version(2);
      assert.equal((await fn(["deploy", dir, "--app", app], env)).code, 0);
      // A second environment.
      const preview = await fn(["deploy", dir, "--app", app, "--env", "preview"], env);
      assert.equal(preview.code, 0, preview.stderr);
      assert.match(
        preview.stdout,
        new RegExp(`http://${app}--preview\\.localhost:${port}/functions/v`),
      );
      // A variable reaches ctx.env.
      assert.equal(
        (await fn(["env", "set", "GREETING", "hello there", "--app", app], env)).code,
        0,
      );
      assert.equal((await json(await s.call(app, "/v"), 200)).greeting, "hello there");
      assert.match((await fn(["env", "ls", "--app", app], env)).stdout, /GREETING/);
      // logs --follow shows a new line.
      const logs = spawnFn(["logs", "--app", app, "--follow"], env);
      try {
        await new Promise((resolve) => setTimeout(resolve, 1500));
        await (await s.call(app, "/v")).body?.cancel();
        await waitFor(
          "the followed line",
          () => Promise.resolve(/served v2/.test(logs.output())),
          10_000,
        );
      } finally {
        await logs.kill("SIGTERM");
      }
      // Deployments and a rollback that changes the answer.
      const listing = await fn(["deployments", "--app", app], env);
      assert.match(listing.stdout, new RegExp(firstId));
      assert.equal((await fn(["rollback", firstId, "--app", app], env)).code, 0);
      assert.equal((await json(await s.call(app, "/v"), 200)).v, 1);
      // A refused deploy prints a code frame and exits 1.
      await Deno.writeTextFile(`${dir}/api/v.ts`, "export default () => ({ body: 1 ;");
      const refused = await fn(["deploy", dir, "--app", app], env);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /deploy refused:\napi\/v\.ts:1:\d+: .*\n\s+1 \| export default/);
      // KV through the CLI.
      assert.equal((await fn(["kv", "set", "k", "v1", "--app", app], env)).code, 0);
      assert.equal((await fn(["kv", "get", "k", "--app", app], env)).stdout.trim(), "v1");
      assert.equal((await fn(["kv", "ls", "--app", app], env)).stdout.trim(), "k");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

serverTest(
  "fn login stores the URL and key in a file of mode 0600, and later commands use it",
  async (s) => {
    const dir = await Deno.makeTempDir({ prefix: "fn-login-" });
    try {
      const config = `${dir}/nested/fn.json`;
      const login = await fn(["login", "--url", s.url, "--key", API_KEY], { FN_CONFIG: config });
      assert.equal(login.code, 0, login.stderr);
      assert.equal((await Deno.stat(config)).mode! & 0o777, 0o600);
      const app = appId("login");
      await s.deployOk(app, { "api/x.ts": "export default () => ({})" });
      const listing = await fn(["deployments", "--app", app], { FN_CONFIG: config });
      assert.equal(listing.code, 0, listing.stderr);
      assert.match(listing.stdout, /dpl_\w+ +production/);
      const refused = await fn(["rollback", "dpl_000000000000000000000000", "--app", app], {
        FN_CONFIG: config,
      });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /404: app ".*" has no deployment/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/** The output of a run that must not show a stack trace: a JS frame line starts with "at ". */
function assertNoStack(run: { stdout: string; stderr: string }): void {
  assert.doesNotMatch(run.stderr + run.stdout, /^\s+at /m, `a stack trace:\n${run.stderr}`);
}

serverTest(
  "fn installed with deno install -g works from any folder: fn init, .gitignore, deno task deploy",
  async (s) => {
    const root = await Deno.makeTempDir({ prefix: "fn-install-" });
    const work = await Deno.makeTempDir({ prefix: "fn-anywhere-" });
    try {
      const repo = new URL("..", import.meta.url).pathname;
      // The README's install command, into a temporary root instead of ~/.deno.
      const install = await new Deno.Command(Deno.execPath(), {
        args: [
          "install",
          "-g",
          "-A",
          "-n",
          "fn",
          "--root",
          root,
          "--config",
          `${repo}deno.json`,
          `${repo}cli/main.ts`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(install.code, 0, new TextDecoder().decode(install.stderr));
      const path = `${root}/bin:${Deno.execPath().replace(/\/[^/]*$/, "")}:${Deno.env.get("PATH")}`;
      const run = async (command: string[], cwd: string, env: Record<string, string> = {}) => {
        const output = await new Deno.Command(command[0]!, {
          args: command.slice(1),
          cwd,
          env: { PATH: path, NO_COLOR: "1", FN_CONFIG: "/nonexistent/fn.json", ...env },
        }).output();
        const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
        return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
      };
      const app = appId("shop");
      const init = await run(["fn", "init", app], work);
      assert.equal(init.code, 0, init.stderr);
      assert.match(init.stdout, new RegExp(`next: cd ${work}/${app} && deno task dev`));
      assert.doesNotMatch(init.stdout, /install fn first/, "fn is on PATH");
      const project = `${work}/${app}`;
      const tasks = JSON.parse(await Deno.readTextFile(`${project}/deno.json`)).tasks;
      assert.deepEqual(tasks, { dev: "fn dev", deploy: `fn deploy --app ${app}` });
      // git add . leaves out the local stores, their keys and .env.
      await Deno.mkdir(`${project}/.fn`);
      await Deno.writeTextFile(`${project}/.fn/secrets.key`, "secret");
      await Deno.writeTextFile(`${project}/.env`, "TOKEN=secret\n");
      assert.equal((await run(["git", "init", "-q"], project)).code, 0);
      assert.equal((await run(["git", "add", "."], project)).code, 0);
      const tracked = (await run(["git", "ls-files"], project)).stdout.split("\n");
      assert.ok(tracked.includes(".gitignore") && tracked.includes("api/hello.ts"), tracked.join());
      assert.ok(!tracked.some((f) => f.startsWith(".fn/") || f === ".env"), tracked.join());
      // The project's own task, run from a subfolder, deploys the project (not the subfolder).
      const deployed = await run(["deno", "task", "deploy"], `${project}/api`, {
        FN_URL: s.url,
        FN_API_KEY: API_KEY,
      });
      assert.equal(deployed.code, 0, deployed.stderr);
      assert.match(deployed.stdout, /deployed dpl_\w+ to production/);
      assert.deepEqual(await json(await s.call(app, "/hello?who=ada"), 200), {
        message: "Hello, ada!",
      });
    } finally {
      await Deno.remove(root, { recursive: true });
      await Deno.remove(work, { recursive: true });
    }
  },
);

serverTest(
  "a user's mistakes are one line with exit 1 or 2, never a stack; a 401 names the key's source",
  async (s) => {
    const dir = await Deno.makeTempDir({ prefix: "fn-mistakes-" });
    const env = { FN_URL: s.url, FN_API_KEY: API_KEY };
    try {
      await Deno.mkdir(`${dir}/api`);
      await Deno.writeTextFile(`${dir}/api/hello.ts`, "export default () => ({ body: 'hi' });");
      const expect = async (
        args: string[],
        code: 1 | 2,
        message: RegExp,
        extra: Record<string, string> = env,
      ) => {
        const run = await fn(args, extra);
        assert.equal(run.code, code, `fn ${args.join(" ")}: ${run.stderr}`);
        assert.match(run.stderr, new RegExp(`^error: ${message.source}`), run.stderr);
        assertNoStack(run);
      };
      await expect(
        ["deploy", `${dir}/api/hello.ts`, "--app", "x"],
        2,
        /.*api\/hello\.ts is a file: fn deploy takes the project's folder, the one holding api\/ \(fn deploy .*\)/,
      );
      await expect(["deploy", `${dir}/missing`, "--app", "x"], 2, /.*missing: no such folder/);
      await expect(["dev", `${dir}/missing`], 2, /.*missing: no such folder/);
      await expect(
        ["dev", dir, "--env-file", `${dir}/missing.env`],
        2,
        /cannot read the variables file .*missing\.env: no such file/,
      );
      const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      try {
        const port = (taken.addr as Deno.NetAddr).port;
        await expect(
          ["dev", dir, "--port", String(port)],
          2,
          new RegExp(`port ${port} is in use: choose another with --port`),
        );
      } finally {
        taken.close();
      }
      await expect(["kv", "set", "k", "v", "--ttl", "soon", "--app", "x"], 2, /--ttl must be/);

      // A wrong key: the same line from every command, naming where the key came from.
      const wrong = { FN_URL: s.url, FN_API_KEY: "not-the-key-0123456789" };
      const fromEnv = /401: invalid API key \(the key from FN_API_KEY\)/;
      await expect(["logs", "--app", "x"], 1, fromEnv, wrong);
      await expect(["logs", "--app", "x", "--follow"], 1, fromEnv, wrong);
      await expect(["deploy", dir, "--app", "x"], 1, fromEnv, wrong);
      const config = `${dir}/fn.json`;
      await Deno.writeTextFile(
        config,
        JSON.stringify({ url: s.url, key: "not-the-key-0123456789" }),
      );
      await expect(
        ["env", "ls", "--app", "x"],
        1,
        new RegExp(`401: invalid API key \\(the key from the login saved in ${config}\\)`),
        { FN_CONFIG: config },
      );
      // fn login checks the key first, and saves nothing it refuses.
      const login = `${dir}/login/fn.json`;
      await expect(
        ["login", "--url", s.url, "--key", "not-the-key-0123456789"],
        1,
        /401: invalid API key \(the key from --key\); nothing was saved/,
        { FN_CONFIG: login },
      );
      await assert.rejects(Deno.stat(login), Deno.errors.NotFound);
      const closed = freePort();
      await expect(
        ["deployments", "--app", "x"],
        1,
        new RegExp(`cannot reach http://127\\.0\\.0\\.1:${closed}`),
        { FN_URL: `http://127.0.0.1:${closed}`, FN_API_KEY: API_KEY },
      );

      // Empty listings say so; kv set --ttl; named keys.
      const app = appId("mistakes");
      await s.deployOk(app, { "api/x.ts": "export default () => ({})" });
      assert.equal(
        (await fn(["env", "ls", "--app", app], env)).stdout.trim(),
        "no variables in production",
      );
      const set = await fn(["kv", "set", "short", "v", "--ttl", "120", "--app", app], env);
      assert.equal(set.code, 0, set.stderr);
      const { expires_at } = await json<{ expires_at: string }>(
        await s.api(`/apps/${app}/kv/short`),
        200,
      );
      const left = Date.parse(expires_at) - Date.now();
      assert.ok(left > 60_000 && left <= 120_000, `expires in ${left} ms`);
      const created = await fn(["keys", "create", "--name", "ci deploys", "--app", app], env);
      assert.equal(created.code, 0, created.stderr);
      assert.match(created.stdout, /^key_\w+ \(ci deploys\)\nfnk_/);
      await expect(
        ["keys", "create", "--name", "x".repeat(65), "--app", app],
        1,
        /400: .*name must be 1 to 64 printable characters/,
      );
      assert.match(
        (await fn(["keys", "ls", "--app", app], env)).stdout,
        /key_\w+ {2}\S+ {2}ci deploys/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

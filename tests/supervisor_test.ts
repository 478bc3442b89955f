/**
 * The sandbox supervisor, seen from outside: stops are proven by their effect on the process
 * tree (/proc), bounds by what callers get. Each test starts its own server when it needs
 * particular bounds.
 */
import assert from "node:assert/strict";
import { appId, json, startServer, suite, waitFor } from "./helpers.ts";
import { NO_RESOLUTION_FLAGS } from "../runtime/sandbox/host/supervisor.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A server with a 64 MB heap and 192 MB of memory per sandbox, and the default 30 s time limit:
 * the memory limits must win their race against the clock even on a loaded machine.
 */
const test = suite(() =>
  startServer({ env: { FUNCTION_MEMORY_MB: "64", SANDBOX_MEMORY_MB: "192" } })
);

test("a handler holding ArrayBuffers past the sandbox's memory cap answers 502 naming the limit", async (s) => {
  const app = appId("buffers");
  const other = appId("calm");
  await s.deployOk(app, {
    // Outside the V8 heap: each buffer is touched so it is resident.
    "api/hog.ts": `export default async () => {
      const held = [];
      while (true) {
        held.push(new Uint8Array(16 * 1024 * 1024).fill(1));
        await new Promise((r) => setTimeout(r, 5));
      }
    };`,
  });
  await s.deployOk(other, { "api/ok.ts": "export default () => ({ body: 'calm' });" });
  const response = await s.call(app, "/hog");
  const requestId = response.headers.get("x-request-id")!;
  const body = await json(response, 502);
  assert.match(
    String(body.error),
    /ran out of memory: its sandbox used \d+ MB, over the limit of 192 MB/,
  );
  await waitFor("the memory stop to be logged with its figure", async () => {
    const entries = await s.logs(app, `request_id=${requestId}&level=error`);
    return entries.some((e) => /used \d+ MB, over the limit of 192 MB/.test(e.message));
  }, 5000);
  assert.equal(await (await s.call(other, "/ok")).text(), "calm");
});

test("each environment of an app runs in its own process: no shared state, no shared crash", async (s) => {
  const app = appId("envs");
  const files = {
    "api/g.ts":
      "export default () => { globalThis.hits = (globalThis.hits ?? 0) + 1; return { body: globalThis.hits }; }",
    "api/slow.ts":
      "export default async () => { await new Promise((r) => setTimeout(r, 700)); return { body: 'done' }; }",
    "api/hog.ts":
      "export default () => { const a = []; while (true) a.push(new Array(1e5).fill(a.length)); };",
  };
  await s.deployOk(app, files);
  await s.deployOk(app, files, { environment: "preview" });
  const preview = (path: string) => s.request(`/apps/${app}/env/preview/functions${path}`);
  assert.equal(await json(await s.call(app, "/g"), 200), 1);
  assert.equal(await json(await preview("/g"), 200), 1);
  // An out-of-memory in preview does not fail a request running in production.
  const slow = s.call(app, "/slow");
  await json(await preview("/hog"), 502);
  assert.equal(await (await slow).text(), "done");
  assert.equal(await json(await s.call(app, "/g"), 200), 2);
});

Deno.test({
  name: "past the cap the least recently used idle sandbox is evicted, and its app still answers",
  async fn() {
    const s = await startServer({ env: { MAX_SANDBOXES: "2", SPARE_SANDBOXES: "1" } });
    try {
      const apps = [appId("a"), appId("b"), appId("c")];
      for (const app of apps) {
        await s.deployOk(app, { "api/who.ts": `export default () => ({ body: "${app}" });` });
      }
      for (let round = 0; round < 3; round++) {
        for (const app of apps) assert.equal(await (await s.call(app, "/who")).text(), app);
        const { live } = s.platform.sandboxes.stats();
        assert.ok(live <= 2, `${live} sandboxes serve deployments, over the cap of 2`);
        assert.ok(s.platform.sandboxes.pids().length <= 3, "at most the cap plus one spare run");
      }
      // Stops are counted when the process has exited.
      await waitFor(
        "six evictions counted",
        () => Promise.resolve((s.platform.sandboxes.stats().stops.evicted ?? 0) >= 6),
        5000,
      );
    } finally {
      await s.close();
    }
  },
});

Deno.test({
  name: "when every sandbox is busy a request waits briefly, then gets 503 with Retry-After",
  async fn() {
    const s = await startServer({ env: { MAX_SANDBOXES: "1", SPARE_SANDBOXES: "1" } });
    try {
      const [busy, waiting] = [appId("busy"), appId("waiting")];
      await s.deployOk(busy, {
        "api/slow.ts":
          "export default async () => { await new Promise((r) => setTimeout(r, 4000)); return { body: 'slow' }; }",
      });
      const slow = s.call(busy, "/slow");
      await sleep(200);
      const refused = await s.deploy(waiting, {
        "api/ok.ts": "export default () => ({ body: 1 })",
      });
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get("retry-after"), "1");
      assert.match(String((await refused.json()).error), /every sandbox is busy \(1 at most\)/);
      assert.equal(await (await slow).text(), "slow");
      // Once the slot is free, the same deploy goes through (evicting the idle sandbox).
      await s.deployOk(waiting, { "api/ok.ts": "export default () => ({ body: 1 })" });
      assert.equal(await json(await s.call(waiting, "/ok"), 200), 1);
    } finally {
      await s.close();
    }
  },
});

Deno.test({
  name: "an idle sandbox is stopped after SANDBOX_IDLE_MS and its app starts again on demand",
  async fn() {
    const s = await startServer({ env: { SANDBOX_IDLE_MS: "300" } });
    try {
      const app = appId("idle");
      await s.deployOk(app, { "api/ok.ts": "export default () => ({ body: 'ok' });" });
      assert.equal(await (await s.call(app, "/ok")).text(), "ok");
      await waitFor(
        "the idle sandbox to be stopped",
        () => Promise.resolve(s.platform.sandboxes.stats().live === 0),
        5000,
      );
      await waitFor(
        "the idle stop counted",
        () => Promise.resolve((s.platform.sandboxes.stats().stops.idle ?? 0) >= 1),
        5000,
      );
      assert.equal(await (await s.call(app, "/ok")).text(), "ok");
    } finally {
      await s.close();
    }
  },
});

test("spare processes are started ahead, so a cold app does not wait for a process spawn", async (s) => {
  await waitFor(
    "the spares to be up",
    () => Promise.resolve(s.platform.sandboxes.stats().spares >= 2),
    5000,
  );
  const running = new Set(s.platform.sandboxes.pids());
  const app = appId("cold");
  const { id } = await s.deployOk(app, { "api/ok.ts": "export default () => ({ body: 'ok' });" });
  const pid = s.platform.sandboxes.pidOf(id);
  assert.ok(pid !== null && running.has(pid), "the deployment runs in a process started before it");
  await waitFor(
    "the spares to be replenished",
    () => Promise.resolve(s.platform.sandboxes.stats().spares >= 2),
    5000,
  );
});

test("sandbox processes run at a lower CPU priority than the host", async (s) => {
  const app = appId("nice");
  await s.deployOk(app, { "api/ok.ts": "export default () => ({ body: 'ok' });" });
  await s.call(app, "/ok");
  /** Field 19 of /proc/<pid>/stat, counted after the command name's closing parenthesis. */
  const niceOf = async (pid: number | string) => {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
  };
  const host = await niceOf("self");
  const pids = s.platform.sandboxes.pids();
  assert.ok(pids.length > 0);
  for (const pid of pids) assert.ok(await niceOf(pid) > host, `sandbox ${pid} is not niced`);
});

test("a sandbox process holds no secret in its arguments or environment", async (s) => {
  const app = appId("secretless");
  await s.deployOk(app, { "api/ok.ts": "export default () => ({ body: 'ok' });" });
  await s.setVar(app, "production", "TOKEN", "a-secret-value-123");
  await s.call(app, "/ok");
  for (const pid of s.platform.sandboxes.pids()) {
    const args = (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0");
    const env = (await Deno.readTextFile(`/proc/${pid}/environ`)).split("\0").filter(Boolean);
    assert.deepEqual(env.map((e) => e.split("=")[0]).sort(), [
      "DENO_DIR",
      "DENO_WEBGPU_BACKEND",
      "NO_COLOR",
    ]);
    const text = [...args, ...env].join(" ");
    for (const secret of ["test-admin-key", "a-secret-value-123", "-token"]) {
      assert.ok(!text.includes(secret), `"${secret}" appears in a sandbox's args or environment`);
    }
    for (const flag of ["--no-npm", "--no-remote", "--cached-only"]) {
      assert.ok(args.includes(flag), `sandbox started without ${flag}`);
    }
  }
});

Deno.test({
  name:
    "a sandbox process cannot resolve packages or remote modules, even ones the host has cached",
  async fn() {
    // The same flags the supervisor starts sandboxes with, on a script that tries.
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(
        `${dir}/try.js`,
        `for (const spec of ["npm:hono@4.13.19", "jsr:@std/path", "https://deno.land/x/y.ts"]) {
          try { await import(spec); console.log("loaded " + spec); }
          catch (e) { console.log("refused " + spec); }
        }`,
      );
      const output = await new Deno.Command(Deno.execPath(), {
        args: ["run", ...NO_RESOLUTION_FLAGS, `${dir}/try.js`],
        env: { DENO_DIR: `${dir}/deno-dir`, NO_COLOR: "1" },
        clearEnv: true,
      }).output();
      const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
      assert.deepEqual(lines, [
        "refused npm:hono@4.13.19",
        "refused jsr:@std/path",
        "refused https://deno.land/x/y.ts",
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

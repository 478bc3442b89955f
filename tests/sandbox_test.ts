import assert from "node:assert/strict";
import { appId, json, serverTest } from "./helpers.ts";

const attempt = (expr: string) =>
  `export default async () => { try { const r = await (async () => ${expr})(); return { body: { ok: true, r: String(r) } }; } ` +
  `catch (e) { return { body: { ok: false, name: e.name, message: e.message } }; } };`;

for (
  const [what, expr, pattern] of [
    [
      "reading a file",
      `Deno.readTextFile("/etc/passwd")`,
      /Requires read access to "\/etc\/passwd"/,
    ],
    [
      "reading a file synchronously",
      `Deno.readTextFileSync("/etc/hostname")`,
      /Requires read access/,
    ],
    [
      "writing a file",
      `Deno.writeTextFile("/tmp/pwned", "x")`,
      /Requires write access to "\/tmp\/pwned"/,
    ],
    ["listing a folder", `Array.fromAsync(Deno.readDir("/"))`, /Requires read access/],
    // Reading it sees only the app's variables (tests/portability_test.ts).
    ["writing the environment", `Deno.env.set("HOME", "/")`, /Deno.env is a read-only view/],
    ["deleting from the environment", `Deno.env.delete("HOME")`, /Deno.env is a read-only view/],
    [
      "spawning a process",
      `new Deno.Command("/usr/bin/id").output()`,
      /Requires run access to "\/usr\/bin\/id"/,
    ],
    [
      "spawning a process by name",
      `new Deno.Command("sh").output()`,
      /Failed to spawn|Requires run access/,
    ],
    ["loading a native library (FFI)", `Deno.dlopen("libc.so.6", {})`, /Requires ffi access/],
    ["reading system info", `Deno.hostname()`, /Requires sys access to "hostname"/],
    [
      "opening a TCP socket",
      `Deno.connect({ hostname: "127.0.0.1", port: 6379 })`,
      /Requires net access/,
    ],
    ["exiting the process", `Deno.exit(1)`, /Deno.exit is not available inside a function/],
    ["starting a Worker thread", `new Worker("data:text/javascript,1")`, /Worker is not defined/],
    ["opening a BroadcastChannel", `new BroadcastChannel("x")`, /BroadcastChannel is not defined/],
    ["opening the Cache API", `caches.open("x")`, /caches is not defined/],
    ["using Node's process", `process.stdout.write("x")`, /process is not defined/],
    [
      "reaching Deno's internals",
      `Deno[Deno.internal].core.ops`,
      /Cannot read properties of undefined/,
    ],
    ["evaluating a string", `eval("1 + 1")`, /Code generation from strings disallowed/],
    [
      "building a function from a string",
      `new Function("return 1")()`,
      /Code generation from strings disallowed/,
    ],
    [
      "writing to the process's stdout",
      `Deno.stdout.write(new Uint8Array([0, 0, 0, 9]))`,
      /Deno.stdout is not available inside a function/,
    ],
  ] as const
) {
  serverTest(`${what} inside a handler fails with a clear error`, async (s) => {
    const app = appId();
    await s.deployOk(app, { "api/try.ts": attempt(expr) });
    const body = await json(await s.call(app, "/try"), 200);
    assert.equal(body.ok, false, `expected ${what} to fail, got ${JSON.stringify(body)}`);
    assert.match(String(body.message), pattern);
  });
}

serverTest("a handler's sandbox is reused across requests", async (s) => {
  const app = appId();
  await s.deployOk(app, {
    "api/count.ts": "let n = 0; export default () => ({ body: ++n });",
  });
  const seen = [];
  for (let i = 0; i < 5; i++) seen.push(await json(await s.call(app, "/count"), 200));
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
});

serverTest("one sandbox serves concurrent requests, each getting its own answer", async (s) => {
  const app = appId();
  await s.deployOk(app, {
    "api/wait.ts":
      "export default async (ctx) => { await new Promise((r) => setTimeout(r, 200)); return { body: ctx.req.query.i }; }",
  });
  const started = performance.now();
  const answers = await Promise.all(
    Array.from({ length: 20 }, async (_, i) => await (await s.call(app, `/wait?i=${i}`)).text()),
  );
  assert.deepEqual(answers, Array.from({ length: 20 }, (_, i) => String(i)));
  // Twenty 200 ms waits done one after another would take 4 s.
  assert.ok(performance.now() - started < 3000);
});

serverTest(
  "a deploy loads the modules before answering, so top-level code has already run",
  async (s) => {
    const app = appId();
    await s.deployOk(app, {
      "api/t.ts": "const loadedAt = Date.now(); export default () => ({ body: loadedAt });",
    });
    const deployedAt = Date.now();
    const loadedAt = await json<number>(await s.call(app, "/t"), 200);
    assert.ok(
      loadedAt <= deployedAt,
      `module loaded at ${loadedAt}, after the deploy answered at ${deployedAt}`,
    );
  },
);

serverTest("each app runs in its own sandbox process, so module state is not shared", async (s) => {
  const [a, b] = [appId(), appId()];
  const files = {
    "api/g.ts":
      "export default () => { globalThis.hits = (globalThis.hits ?? 0) + 1; return { body: globalThis.hits }; }",
  };
  await s.deployOk(a, files);
  await s.deployOk(b, files);
  assert.equal(await json(await s.call(a, "/g"), 200), 1);
  assert.equal(await json(await s.call(a, "/g"), 200), 2);
  assert.equal(await json(await s.call(b, "/g"), 200), 1);
});

for (
  const [what, expr] of [
    ["a package", `import(["npm:" + "hono"][0])`],
    ["Node's worker threads", `import("node:" + "worker_threads")`],
    ["a local file", `import(["file:///etc/passwd"][0])`],
    ["a remote module", `import(["https://example.com/x.js"][0])`],
  ] as const
) {
  serverTest(
    `a deploy that imports ${what} by a computed name is refused with its line`,
    async (s) => {
      const response = await s.deploy(appId(), {
        "api/x.ts":
          `export default async () => {\n  const m = await ${expr};\n  return { body: 1 };\n};`,
      });
      const body = await json(response, 400);
      assert.match(
        String(body.error),
        /api\/x\.ts:2:\d+: import\(…\) must name a module by (a|one) string literal/,
      );
    },
  );
}

/**
 * npm packages, the seed's way: `fn deploy` (a subprocess) bundles a project's packages into
 * the deploy, one module per package and version, and the platform loads none at run time.
 * The packages come from Deno's npm cache (downloaded on a machine's first run).
 */
import assert from "node:assert/strict";
import { API_KEY, appId, json, serverTest, type TestServer } from "./helpers.ts";

const CLI = new URL("../cli/main.ts", import.meta.url).pathname;
const ZOD = "3.23.8";
const HONO = "4.6.3";

/** Runs `fn <args>` to completion against `s`; answers its exit code and output. */
async function fn(s: TestServer, args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env: { NO_COLOR: "1", FN_CONFIG: "/nonexistent/fn.json", FN_URL: s.url, FN_API_KEY: API_KEY },
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** A project folder holding `files` (path → text). */
async function project(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "fn-packages-test-" });
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(`${dir}/${path}`.replace(/\/[^/]+$/, ""), { recursive: true });
    await Deno.writeTextFile(`${dir}/${path}`, text);
  }
  return dir;
}

serverTest(
  "fn deploy bundles zod and hono from npm once each, records them, and they run in the sandbox",
  async (s) => {
    const app = appId("pkg");
    const dir = await project({
      "deno.json": JSON.stringify({ imports: { zod: `npm:zod@${ZOD}`, hono: `npm:hono@${HONO}` } }),
      // Shared by both routes: zod's code must still be deployed once.
      "lib/schema.ts": `import { z } from "zod";\n` +
        `export const Person = z.object({ name: z.string().min(1) });\n`,
      "api/validate.ts": `/* é😀 */ import { z } from "zod";
import { Person } from "../lib/schema.ts";
export default (ctx) => {
  const parsed = Person.extend({ age: z.number().int().optional() }).safeParse(ctx.req.body);
  return parsed.success
    ? { body: { hello: parsed.data.name } }
    : { status: 400, body: { issues: parsed.error.issues.map((i) => i.path.join(".")) } };
};
`,
      "api/app/[[...rest]].ts": `import { Hono } from "hono";
import { cors } from "hono/cors";
import zod from "npm:zod@${ZOD}";
import { Person } from "../../lib/schema.ts";
const app = new Hono().basePath("/functions/app");
app.use("*", cors());
app.get("/hello/:name", (c) => c.json({ hi: Person.parse({ name: c.req.param("name") }).name }));
app.get("/default", (c) => c.json({ isZod: typeof zod.object === "function" }));
export default app;
`,
    });
    try {
      const deployed = await fn(s, ["deploy", dir, "--app", app]);
      assert.equal(deployed.code, 0, deployed.stderr);
      assert.match(
        deployed.stdout,
        new RegExp(`bundled .*zod@${ZOD}.*hono@${HONO}|bundled .*hono@${HONO}.*zod@${ZOD}`),
      );
      const id = deployed.stdout.match(/deployed (dpl_\w+)/)![1]!;

      const stored = await json<
        { packages: Record<string, string>; source_files: Record<string, string> }
      >(
        await s.api(`/apps/${app}/deployments/${id}`),
        200,
      );
      assert.deepEqual(stored.packages, { hono: HONO, zod: ZOD });
      const files = stored.source_files;
      for (
        const module of [`zod@${ZOD}.js`, `hono@${HONO}.js`, `hono@${HONO}+cors.js`, "imports.json"]
      ) {
        assert.ok(Object.hasOwn(files, `_packages/${module}`), `_packages/${module} deployed`);
      }
      // The user's files are deployed as written; the map tells the compiler where each goes.
      assert.match(files["api/validate.ts"]!, /from "zod"/);
      assert.deepEqual(JSON.parse(files["_packages/imports.json"]!), {
        hono: `_packages/hono@${HONO}.js`,
        "hono/cors": `_packages/hono@${HONO}+cors.js`,
        [`npm:zod@${ZOD}`]: `_packages/zod@${ZOD}.js`,
        zod: `_packages/zod@${ZOD}.js`,
      });
      // One copy of zod's code (its ZodError class) whatever imports it, and no local path.
      const bundled = Object.entries(files).filter(([path]) => path.startsWith("_packages/"));
      const zodErrors = bundled.filter(([, text]) => text.includes('this.name = "ZodError"'));
      assert.deepEqual(zodErrors.map(([path]) => path), [`_packages/zod@${ZOD}.js`]);
      const home = Deno.env.get("HOME")!;
      for (const [path, text] of bundled) {
        for (const local of [dir, `${home}/`, "/tmp/", ".cache/deno", "../"]) {
          assert.ok(!text.includes(local), `${path} holds no local path (${local})`);
        }
      }

      const valid = await s.call(app, "/validate", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "ada", age: 36 }),
      });
      assert.deepEqual(await json(valid, 200), { hello: "ada" });
      const invalid = await s.call(app, "/validate", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "", age: 1.5 }),
      });
      assert.deepEqual(await json(invalid, 400), { issues: ["name", "age"] });
      const hello = await s.call(app, "/app/hello/bob", {
        headers: { origin: "https://a.example" },
      });
      assert.equal(hello.headers.get("access-control-allow-origin"), "*");
      assert.deepEqual(await json(hello, 200), { hi: "bob" });
      assert.deepEqual(await json(await s.call(app, "/app/default"), 200), { isZod: true });

      const listing = await fn(s, ["deployments", "--app", app]);
      assert.equal(listing.code, 0, listing.stderr);
      assert.match(listing.stdout, new RegExp(`${id} .*\\[hono@${HONO} zod@${ZOD}\\]`));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

serverTest("a raw deploy of a package import is refused, saying how to bundle it", async (s) => {
  const response = await s.deploy(appId("raw"), {
    "api/a.ts": `import { z } from "zod";\nexport default () => ({ body: z.string().parse("x") });`,
  });
  const body = await json<{ diagnostics: Array<{ file: string; line: number; message: string }> }>(
    response,
    400,
  );
  assert.equal(body.diagnostics[0]!.file, "api/a.ts");
  assert.equal(body.diagnostics[0]!.line, 1);
  assert.match(body.diagnostics[0]!.message, /import "zod" is not allowed: .*fn deploy/);
  // A `packages` listing that the files do not hold is refused too.
  const claimed = await s.deploy(appId("raw"), { "api/a.ts": "export default () => ({})" }, {
    packages: { zod: ZOD },
  });
  assert.match((await json(claimed, 400)).error as string, /packages\["zod"\] is 3\.23\.8, but/);
});

serverTest(
  "fn deploy refuses a package that needs Node built-ins, naming it, and an unlisted import",
  async (s) => {
    const dir = await project({
      // prom-client is one of the platform's own dependencies, so it is in Deno's cache.
      "api/metrics.ts": `import { Registry } from "npm:prom-client@15.1.3";\n` +
        `export default () => ({ body: String(new Registry()) });\n`,
    });
    try {
      const refused = await fn(s, ["deploy", dir, "--app", appId("node")]);
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        /error: cannot bundle the project.s packages:\npackage "prom-client" needs the Node built-ins? node:\w+ \(in prom-client@15\.1\.3\//,
      );
      await Deno.writeTextFile(
        `${dir}/api/metrics.ts`,
        `import { z } from "zod";\nexport default () => ({ body: z.string().parse("x") });\n`,
      );
      const unlisted = await fn(s, ["deploy", dir, "--app", appId("node")]);
      assert.equal(unlisted.code, 1);
      assert.match(
        unlisted.stderr,
        /api\/metrics\.ts:1:19: import "zod" cannot be bundled: .*deno\.json/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

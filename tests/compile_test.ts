import assert from "node:assert/strict";
import { appId, json, serverTest } from "./helpers.ts";

interface Refusal {
  error: string;
  diagnostics: Array<
    { file: string | null; line: number | null; column: number | null; message: string }
  >;
}

const OK = "export default () => ({ body: 'ok' });";

async function refused(
  s: Parameters<Parameters<typeof serverTest>[1]>[0],
  files: Record<string, string>,
) {
  return await json<Refusal>(await s.deploy(appId(), files), 400);
}

serverTest("a deploy with a syntax error is refused with its file, line and column", async (s) => {
  const body = await refused(s, {
    "api/a.ts": "const x = 1;\nexport default () => ({ body: 1 ;\n",
  });
  assert.deepEqual(body.diagnostics[0]!.file, "api/a.ts");
  assert.equal(body.diagnostics[0]!.line, 2);
  assert.equal(body.diagnostics[0]!.column, 33);
  assert.match(body.error, /^deploy refused: api\/a\.ts:2:33: Expected "}"/);
});

serverTest("TypeScript is transpiled: types, interfaces and enums work", async (s) => {
  const app = appId();
  await s.deployOk(app, {
    "api/t.ts": `interface P { n: number }\nenum E { A = 2 }\nconst p: P = { n: E.A };\n` +
      `export default async (_ctx: unknown): Promise<object> => ({ body: p });`,
  });
  assert.deepEqual(await json(await s.call(app, "/t"), 200), { n: 2 });
});

for (
  const spec of [
    "lodash",
    "npm:lodash",
    "jsr:@std/path",
    "node:fs",
    "https://deno.land/x/a.ts",
    "http://x/a.js",
    "data:text/javascript,export default 1",
    "/etc/passwd",
  ]
) {
  serverTest(`an import of "${spec}" is refused with its line`, async (s) => {
    const body = await refused(s, {
      "api/a.ts": `// comment\nimport x from ${JSON.stringify(spec)};\nexport default x;`,
    });
    assert.equal(body.diagnostics[0]!.file, "api/a.ts");
    assert.equal(body.diagnostics[0]!.line, 2);
    assert.equal(body.diagnostics[0]!.column, 15);
    assert.match(
      body.diagnostics[0]!.message,
      spec.startsWith("node:")
        ? /is not allowed: the sandbox has no Node\.js built-ins\. Use the web APIs it has: crypto\.subtle/
        : /is not allowed: only relative imports/,
    );
  });
}

serverTest("a require() of a package is refused like an import", async (s) => {
  const body = await refused(s, {
    "api/a.js": `const fs = require("fs");\nexport default () => ({});`,
  });
  assert.match(body.diagnostics[0]!.message, /"fs" is not allowed/);
});

serverTest("a relative import that leaves the tree is refused", async (s) => {
  const body = await refused(s, {
    "api/a.ts": `import x from "../../secret.ts";\nexport default x;`,
  });
  assert.match(body.diagnostics[0]!.message, /leaves the app's source tree/);
  assert.equal(body.diagnostics[0]!.line, 1);
});

serverTest("a relative import of a missing file is refused naming it", async (s) => {
  const body = await refused(s, { "api/a.ts": `import x from "../lib/nope";\nexport default x;` });
  assert.match(body.diagnostics[0]!.message, /names lib\/nope, which is not in the deploy/);
});

serverTest("relative imports between deployed files work, with or without extension", async (s) => {
  const app = appId();
  await s.deployOk(app, {
    "api/users.ts": `import { db } from "../lib/db.ts";\nimport { n } from "./_shared";\n` +
      `import data from "../lib/data.json";\nexport default () => ({ body: { db, n, data } });`,
    "api/_shared.ts": "export const n = 7;",
    "lib/db.ts": `export const db = "sqlite";`,
    "lib/data.json": `{ "k": [1, 2] }`,
  });
  assert.deepEqual(await json(await s.call(app, "/users"), 200), {
    db: "sqlite",
    n: 7,
    data: { k: [1, 2] },
  });
});

serverTest("files outside api/ and under _ folders are modules, not routes", async (s) => {
  const app = appId();
  const body = await s.deployOk(app, {
    "api/a.ts": OK,
    "api/_lib/x.ts": OK,
    "api/_private.ts": OK,
    "lib/b.ts": OK,
    "README.md": "# notes",
  });
  assert.deepEqual(body.routes.map((r) => r.pattern), ["/functions/a"]);
  await json(await s.call(app, "/_private"), 404);
  await json(await s.call(app, "/_lib/x"), 404);
});

serverTest("a route file with no default export is refused", async (s) => {
  const body = await refused(s, { "api/a.ts": "export const handler = () => ({});" });
  assert.equal(body.diagnostics[0]!.file, "api/a.ts");
  assert.match(body.diagnostics[0]!.message, /no default export/);
});

serverTest("a default export that is not a function is refused", async (s) => {
  const body = await refused(s, { "api/a.ts": "export default { body: 1 };" });
  assert.equal(body.diagnostics[0]!.file, "api/a.ts");
  assert.match(body.diagnostics[0]!.message, /default export must be a function, got object/);
});

serverTest("a module that throws while loading is refused at deploy", async (s) => {
  const body = await refused(s, {
    "api/a.ts": `throw new Error("bad init");\nexport default () => ({});`,
  });
  assert.match(body.error, /api\/a\.ts failed to load: bad init/);
});

for (const file of ["api/a.py", "api/a.tsx", "api/style.css", "api/data.json"]) {
  serverTest(`an api/ file that is not .ts or .js (${file}) is refused`, async (s) => {
    const body = await refused(s, { "api/ok.ts": OK, [file]: "x" });
    assert.equal(body.diagnostics[0]!.file, file);
    assert.match(body.diagnostics[0]!.message, /must be \.ts or \.js/);
  });
}

for (
  const [path, pattern] of [
    ["/api/a.ts", /absolute/],
    ["api/../a.ts", /'\.' or '\.\.' segment/],
    ["api/./a.ts", /'\.' or '\.\.' segment/],
    ["api\\a.ts", /backslash/],
    ["api/a\u0000.ts", /NUL/],
    ["api//a.ts", /empty segment/],
    ["", /empty/],
  ] as const
) {
  serverTest(`a path ${JSON.stringify(path)} is refused`, async (s) => {
    const body = await refused(s, { "api/ok.ts": OK, [path]: OK });
    assert.equal(body.diagnostics[0]!.file, path);
    assert.match(body.diagnostics[0]!.message, pattern);
  });
}

serverTest("more than 500 files is refused saying the limit", async (s) => {
  const files: Record<string, string> = { "api/a.ts": OK };
  for (let i = 0; i < 500; i++) files[`lib/f${i}.ts`] = "export const x = 1;";
  const body = await refused(s, files);
  assert.match(body.error, /501 files; the limit is 500/);
});

serverTest("more than 5 MB of source is refused saying the limit", async (s) => {
  const body = await refused(s, {
    "api/a.ts": OK,
    "lib/big.ts": `// ${"x".repeat(5 * 1024 * 1024)}`,
  });
  assert.match(body.error, /bytes of source; the limit is 5242880 \(5 MB\)/);
});

serverTest("a deploy with no route file is refused", async (s) => {
  const body = await refused(s, { "lib/a.ts": OK });
  assert.match(body.error, /no route/);
});

serverTest("two files serving the same route are refused", async (s) => {
  const body = await refused(s, { "api/a.ts": OK, "api/a/index.js": OK });
  assert.match(body.error, /both serve \/functions\/a/);
});

serverTest("a glob-style import never reads the host's own files", async (s) => {
  for (
    const expr of [`import("./" + name)`, "import(`./${name}.ts`)", `import("../" + name + ".js")`]
  ) {
    const response = await s.deploy("glob-app", {
      "api/x.ts": `export default async (name) => { await ${expr}; return {}; };`,
    });
    const text = await response.text();
    assert.equal(response.status, 400, text);
    for (const hostFile of [".git", "deno.json", "README", ".ci", "main.ts"]) {
      assert.ok(!text.includes(hostFile), `the answer names the host's ${hostFile}: ${text}`);
    }
  }
});

serverTest("a deploy refused for a compile limit is also logged for the app", async (s) => {
  const app = "compile-limit-log";
  const response = await s.deploy(app, {
    "api/x.ts": `export default () => ${"[".repeat(600)}${"]".repeat(600)};`,
  });
  assert.equal(response.status, 400);
  await response.body?.cancel();
  const entries = await s.logs(app, "level=warn");
  assert.ok(entries.some((e) => /deploy refused: .*nest deeper than 500 levels/.test(e.message)));
});

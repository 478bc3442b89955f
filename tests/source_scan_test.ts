/** The lexer that pre-checks deployed sources: computed imports and deep nesting, nothing else. */
import assert from "node:assert/strict";
import { MAX_NESTING, scanSource } from "../runtime/deploy/source_scan.ts";

for (
  const source of [
    `import { a } from "./a.ts"; export default async () => (await import("./b.ts")).b;`,
    `const s = "import(x)"; const t = 'require(y)'; const u = \`import(\${"z"})\`;`,
    `// import(x)\n/* require(y) */ export default 1;`,
    `const r = /import\\(x\\)/g; const d = 4 / 2 / 1; export default r.test(d + "");`,
    `const m = import.meta.url; const o = { import(x) { return x; } }; o.import(m);`,
    `export default () => ${"[".repeat(MAX_NESTING)}${"]".repeat(MAX_NESTING)};`,
    `const x = \`\${\`\${"("}\`}\`; export default () => x;`,
    `const m = await import("./m.ts", { with: { type: "json" } });`,
  ]
) {
  Deno.test(`scan accepts ${JSON.stringify(source.slice(0, 60))}`, () => {
    assert.equal(scanSource("api/x.ts", source), null);
  });
}

for (
  const [source, line, column, pattern] of [
    [`export default async (n) => import("./" + n);`, 1, 35, /one string literal/],
    ["const f = (n) => import(`./${n}`);", 1, 24, /by a string literal/],
    [`\n\nrequire(name);`, 3, 8, /require\(…\) must name a module/],
    [`const a = 1;\nawait import(a);`, 2, 13, /by a string literal/],
    [`export default () => ${"(".repeat(MAX_NESTING + 1)}1;`, 1, 22 + MAX_NESTING, /nest deeper/],
  ] as const
) {
  Deno.test(`scan refuses ${JSON.stringify(source.slice(0, 50))} at ${line}:${column}`, () => {
    const problem = scanSource("api/x.ts", source);
    assert.ok(problem);
    assert.equal(problem.line, line);
    assert.equal(problem.column, column);
    assert.match(problem.message, pattern);
  });
}

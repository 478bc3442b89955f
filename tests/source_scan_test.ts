/** The lexer that pre-checks deployed sources: computed imports and deep nesting, nothing else. */
import assert from "node:assert/strict";
import { MAX_NESTING, MAX_OPERATOR_RUN, scanSource } from "../runtime/deploy/source_scan.ts";

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

for (
  const [what, source] of [
    ["1,000 prefix operators", `export default () => ${"!".repeat(MAX_OPERATOR_RUN)}1;`],
    ["1,000 chained assignments", `let a; a${"=a".repeat(MAX_OPERATOR_RUN - 1)};`],
    ["binary operators between operands", `export default () => ${"1 - ".repeat(5000)}1;`],
    ["comparisons and arrows", `const f = (a) => a == a === a; let b = 1; b = b == b;`],
  ] as const
) {
  Deno.test(`scan accepts ${what}`, () => {
    assert.equal(scanSource("api/x.ts", source), null);
  });
}

for (
  const [what, source, line, column, pattern] of [
    ["!", `export default () => ${"!".repeat(MAX_OPERATOR_RUN + 1)}1;`, 1, 22, /prefix/],
    ["- and +", `\n  x = ${"-+".repeat(MAX_OPERATOR_RUN)}1;`, 2, 7, /prefix operators/],
    ["typeof", `f(${"typeof /* c */ ".repeat(MAX_OPERATOR_RUN + 1)}1);`, 1, 3, /in a row/],
    ["=a", `let a;\na${"=a".repeat(MAX_OPERATOR_RUN + 1)};`, 2, 2, /chained assignments/],
  ] as const
) {
  Deno.test(`scan refuses a run of ${what} past ${MAX_OPERATOR_RUN}, where it starts`, () => {
    const problem = scanSource("api/x.ts", source);
    assert.ok(problem);
    assert.equal(problem.limit, true);
    assert.deepEqual([problem.line, problem.column], [line, column]);
    assert.match(problem.message, pattern);
  });
}

Deno.test("scan looks past nested require( once: 400 levels cost what one does, not 400 rescans", () => {
  // Each of the nested calls used to rescan everything up to its closing bracket: 4.9 MB of 400
  // levels took 5.7 s. Timed against one level of the same size in this run (the fastest of
  // three each), so the machine's speed does not matter: a rescan per level would be ~400×.
  const nested = (depth: number) => {
    const filler = "x;".repeat((1024 * 1024 - depth * 20) / 2);
    return `${"require(".repeat(depth)}${filler}${") {}".repeat(depth)}`;
  };
  const fastest = (source: string) => {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      assert.equal(scanSource("api/x.ts", source), null);
      best = Math.min(best, performance.now() - started);
    }
    return Math.max(best, 1);
  };
  const one = fastest(nested(1));
  const many = fastest(nested(400));
  assert.ok(many < one * 8, `400 levels took ${many.toFixed(0)} ms, one ${one.toFixed(0)} ms`);
});

Deno.test("a method named require or import, even nested in calls, is not a call", () => {
  const nested = `${"require(".repeat(50)}x${") {}".repeat(50)}`;
  assert.equal(scanSource("api/x.ts", `const o = { ${nested} };`), null);
  const unclosed = scanSource("api/x.ts", `import(a ${"(".repeat(10)}`);
  assert.match(unclosed!.message, /import\(…\) must name a module by a string literal/);
  const closedThenCall = scanSource("api/x.ts", `) import(a) + 1;`);
  assert.deepEqual([closedThenCall!.line, closedThenCall!.column], [1, 9]);
});

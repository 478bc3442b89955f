/** Stack positions of a compiled bundle mapped back to the deployed files, with esbuild's maps. */
import assert from "node:assert/strict";
import * as esbuild from "esbuild";
import { firstFrame, originalPosition, parseSourceMap } from "../../runtime/sandbox/sourcemap.ts";

const SOURCE =
  `type Cart = { items: string[] };\n\nexport function total(cart: Cart) {\n  throw new Error("no " + cart.items.length);\n}\n`;

Deno.test("a generated position maps to the original file, line and column", async () => {
  const out = await esbuild.transform(SOURCE, {
    loader: "ts",
    sourcemap: "external",
    sourcefile: "src:api/cart.ts",
  });
  const map = parseSourceMap(out.map);
  const lines = out.code.split("\n");
  const line = lines.findIndex((l) => l.includes("throw")) + 1;
  const column = lines[line - 1]!.indexOf("throw") + 1;
  assert.deepEqual(originalPosition(map, line, column), {
    file: "api/cart.ts",
    line: 4,
    column: 3,
  });
  assert.equal(originalPosition(map, lines.length + 5, 1), null, "a line past the map is unmapped");
  await esbuild.stop();
});

Deno.test("the first frame of a mapped stack is found, with or without a function name", () => {
  const named = "Error: no 0\n    at total (api/cart.ts:4:3)\n    at elsewhere (x.js:1:1)";
  assert.deepEqual(firstFrame(named), { file: "api/cart.ts", line: 4, column: 3 });
  const bare = "Error: x\n    at https://example.com/a.js:10:20";
  assert.deepEqual(firstFrame(bare), { file: "https://example.com/a.js", line: 10, column: 20 });
  assert.equal(firstFrame("plain text"), null);
  assert.equal(firstFrame(`Error\n    at ${"a".repeat(70_000)}:1:1`), null, "past 64 KB");
  assert.equal(firstFrame("Error\n    at f (:1:1)\n    at g (x:y:1)"), null);
});

/** Stack frames of a compiled bundle mapped back to the deployed files, with esbuild's maps. */
import assert from "node:assert/strict";
import * as esbuild from "esbuild";
import { firstFrame, mapStack, parseSourceMap } from "../../runtime/sandbox/sourcemap.ts";

const SOURCE =
  `type Cart = { items: string[] };\n\nexport function total(cart: Cart) {\n  throw new Error("no " + cart.items.length);\n}\n`;

Deno.test("a bundle frame is rewritten to the original file, line and column", async () => {
  const out = await esbuild.transform(SOURCE, {
    loader: "ts",
    sourcemap: "external",
    sourcefile: "src:api/cart.ts",
  });
  const map = parseSourceMap(out.map);
  const lines = out.code.split("\n");
  const line = lines.findIndex((l) => l.includes("throw")) + 1;
  const column = lines[line - 1]!.indexOf("throw") + 1;
  const stack =
    `Error: no 0\n    at total (bundle:api/cart.ts:${line}:${column})\n    at elsewhere (x.js:1:1)`;
  const mapped = mapStack(stack, (file) => file === "api/cart.ts" ? map : null);
  assert.match(mapped, /at total \(api\/cart\.ts:4:3\)/);
  assert.match(mapped, /at elsewhere \(x\.js:1:1\)/, "other frames are left as they were");
  assert.deepEqual(firstFrame(mapped), { file: "api/cart.ts", line: 4, column: 3 });
  await esbuild.stop();
});

Deno.test("text without bundle frames comes back unchanged, and unknown maps are left alone", () => {
  assert.equal(mapStack("plain text", () => null), "plain text");
  const stack = "Error\n    at f (bundle:api/x.ts:1:1)";
  assert.equal(mapStack(stack, () => null), stack);
});

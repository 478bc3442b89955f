/** Where sandbox code runs is visible in its imports: sandbox process code imports no host code. */
import assert from "node:assert/strict";

const SANDBOX = new URL("../runtime/sandbox/", import.meta.url);
/** What code in a sandbox process may import besides its own folder. */
const SHARED = [
  "protocol.ts",
  "frames.ts",
  "ctx.ts",
  "sourcemap.ts",
  "streams.ts",
  "json_shape.ts",
  "id_table.ts",
]
  .map((f) => new URL(f, SANDBOX).href);
const NODE_BUILTINS_ALLOWED = ["node:async_hooks"];

async function importsOf(url: URL): Promise<string[]> {
  const text = await Deno.readTextFile(url);
  return [...text.matchAll(/^\s*(?:import|export)[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1]!);
}

for (const folder of ["child"]) {
  Deno.test(`sandbox ${folder} code imports only its own folder and the shared protocol`, async () => {
    const dir = new URL(`${folder}/`, SANDBOX);
    let files = 0;
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.name.endsWith(".ts")) continue;
      files++;
      const file = new URL(entry.name, dir);
      for (const spec of await importsOf(file)) {
        if (NODE_BUILTINS_ALLOWED.includes(spec)) continue;
        const target = new URL(spec, file).href;
        const allowed = target.startsWith(dir.href) || SHARED.includes(target);
        assert.ok(
          allowed,
          `${folder}/${entry.name} imports ${spec}, outside what a sandbox may load`,
        );
      }
    }
    assert.ok(files > 0);
  });
}

Deno.test("the shared protocol, frame codec and source maps import nothing but each other", async () => {
  for (const file of SHARED) {
    for (const spec of await importsOf(new URL(file))) {
      assert.ok(SHARED.includes(new URL(spec, file).href), `${file} imports ${spec}`);
    }
  }
});

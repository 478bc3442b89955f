/** Bundles the sandbox process entry and its function runtime into one script. */
import * as esbuild from "esbuild";

const SANDBOX_DIR = new URL("..", import.meta.url).pathname;

async function bundle(entry: string): Promise<string> {
  const result = await esbuild.build({
    entryPoints: [`${SANDBOX_DIR}${entry}`],
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "esnext",
    external: ["node:*"],
    logLevel: "silent",
  });
  return result.outputFiles[0]!.text;
}

/** Writes the sandbox process script to `path` (once per host start); returns `path`. */
export async function writeSandboxEntry(path: string): Promise<string> {
  await Deno.writeTextFile(path, await bundle("child/main.ts"));
  return path;
}

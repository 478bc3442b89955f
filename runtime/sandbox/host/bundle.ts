/** Bundles the sandbox process entry, with the worker bootstrap inlined, into one script. */
import * as esbuild from "esbuild";

const SANDBOX_DIR = new URL("..", import.meta.url).pathname;

async function bundle(entry: string, define: Record<string, string> = {}): Promise<string> {
  const result = await esbuild.build({
    entryPoints: [`${SANDBOX_DIR}${entry}`],
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "esnext",
    external: ["node:*"],
    logLevel: "silent",
    define,
  });
  return result.outputFiles[0].text;
}

/** Writes the sandbox process script to `path` (once per host start); returns `path`. */
export async function writeSandboxEntry(path: string): Promise<string> {
  const worker = await bundle("worker/main.ts");
  const child = await bundle("child/main.ts", { WORKER_SOURCE: JSON.stringify(worker) });
  await Deno.writeTextFile(path, child);
  return path;
}

/** Bundles the worker bootstrap (runtime/sandbox/worker.ts) into one JS module, once per host start. */
import * as esbuild from "esbuild";

/** Returns the worker bootstrap as self-contained ES module source. */
export async function buildWorkerBootstrap(): Promise<string> {
  const result = await esbuild.build({
    entryPoints: [new URL("./worker.ts", import.meta.url).pathname],
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "esnext",
    external: ["node:*"],
    logLevel: "silent",
  });
  return result.outputFiles[0].text;
}

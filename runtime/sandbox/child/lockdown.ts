/**
 * Takes away, before any user code runs, what a permission-less process would still reach:
 * threads (`Worker`), the host-wide Cache API, channels between workers, Deno's internals,
 * Node's `process`, the process's stdio and its exit. What stays is the web platform a
 * handler needs.
 */

/** Globals removed from a sandbox process, each with why. */
const REMOVED_GLOBALS = [
  "Worker", // threads outlive requests and escape the time limit
  "SharedWorker",
  "caches", // stored on the host's disk, shared by every process with the same entry
  "CacheStorage",
  "Cache",
  "BroadcastChannel", // reaches every worker of the process
  "process", // Node's process: stdio, getBuiltinModule, exit
  "localStorage",
  "sessionStorage",
  "alert", // stdio of the process
  "confirm",
  "prompt",
  "close", // ends the process
] as const;

/** The process's stdio: stdout and stderr are not the wire, but nothing of the process is the function's. */
const REFUSED_DENO = ["stdin", "stdout", "stderr"] as const;

function refuse(what: string): () => never {
  return () => {
    throw new Error(`${what} is not available inside a function`);
  };
}

/** Removes the globals above and Deno's internals; call once, before loading user modules. */
export function lockDown(): void {
  const global = globalThis as Record<string, unknown>;
  for (const name of REMOVED_GLOBALS) {
    delete global[name];
    if (name in global) {
      Object.defineProperty(globalThis, name, { get: refuse(name), configurable: false });
    }
  }
  const deno = Deno as unknown as Record<string | symbol, unknown>;
  delete deno[(Deno as unknown as { internal: symbol }).internal];
  for (const name of REFUSED_DENO) {
    Object.defineProperty(Deno, name, { get: refuse(`Deno.${name}`), configurable: false });
  }
  Object.defineProperty(Deno, "exit", { value: refuse("Deno.exit"), configurable: false });
}

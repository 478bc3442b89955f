/**
 * Habits from other runtimes, made to work or to teach: `Deno.env` becomes a read-only view of
 * the running request's variables (the process itself has no environment permission, and its
 * own error would say to rerun with a flag no user can pass), and an error from using Node's
 * `process`, which stays absent, gets a line naming `ctx.env`.
 */

/** A mutation of `Deno.env`, refused: variables are set with the API, `fn vars` or the Studio. */
function readOnly(what: string): () => never {
  return () => {
    throw new TypeError(
      `Deno.env.${what} is not available in a function: Deno.env is a read-only view of the ` +
        "app's variables (ctx.env); set them with `fn vars`, the API or the Studio",
    );
  };
}

/**
 * Replaces `Deno.env` with a read-only view of `current()`, the variables of the running
 * request (none outside a request). Call before the lockdown, once.
 */
export function installEnvView(
  current: () => Readonly<Record<string, string>> | undefined,
): void {
  const lookup = (key: string) => {
    const env = current();
    return env && Object.hasOwn(env, key) ? env[key] : undefined;
  };
  const view = Object.freeze({
    get: lookup,
    has: (key: string) => lookup(key) !== undefined,
    toObject: () => ({ ...current() }),
    set: readOnly("set"),
    delete: readOnly("delete"),
  });
  Object.defineProperty(Deno, "env", { value: view, writable: false, configurable: false });
}

/** `message` with what to do instead when it comes from using Node's absent `process`. */
export function withHint(message: string): string {
  if (!/\bprocess is not defined\b/.test(message)) return message;
  return `${message} (a function has no Node process: read variables from ctx.env, or ` +
    "Deno.env.get(name))";
}

/**
 * Which request an async continuation belongs to, so that a handler's console lines, KV calls
 * and fetches reach their request across awaits, timers and microtasks.
 */

/** The request of the running continuation: `R` is what the runtime keeps of a request. */
export interface RequestContext<R> {
  /** Runs `fn` as part of `request`; continuations it schedules stay in that request. */
  run<T>(request: R, fn: () => T): T;
  /** The request of the running continuation, or undefined outside any request. */
  get(): R | undefined;
}

interface CoreAsyncVariable {
  enter(value: unknown): unknown;
  get(): unknown;
}

interface Core {
  AsyncVariable?: new () => CoreAsyncVariable;
  setAsyncContext?: (context: unknown) => void;
}

/**
 * Makes the request context; call before the lockdown removes Deno's internals. It uses Deno's
 * own async variable (what `node:async_hooks` is built on), which spares each sandbox process
 * about 7 ms of CPU at start: loading the Node compatibility layer for `AsyncLocalStorage`. On a
 * Deno without it, it falls back to `AsyncLocalStorage`.
 */
export async function requestContext<R>(): Promise<RequestContext<R>> {
  const internal = (Deno as unknown as { internal: symbol }).internal;
  const core = (Deno as unknown as Record<symbol, { core?: Core } | undefined>)[internal]?.core;
  const Variable = core?.AsyncVariable;
  const restore = core?.setAsyncContext;
  if (typeof Variable === "function" && typeof restore === "function") {
    const variable = new Variable();
    return {
      run(request, fn) {
        const previous = variable.enter(request);
        try {
          return fn();
        } finally {
          restore(previous);
        }
      },
      get: () => variable.get() as R | undefined,
    };
  }
  const { AsyncLocalStorage } = await import("node:async_hooks");
  const storage = new AsyncLocalStorage<R>();
  return { run: (request, fn) => storage.run(request, fn), get: () => storage.getStore() };
}

/**
 * Keeps an instance in step with others sharing its store: polls the store's version and,
 * when it moves, lets the instance re-read what it caches (live deployments, variables).
 * Polling one counter costs one small Redis call per interval and needs no pub/sub.
 */
import type { PlatformStore } from "./store/types.ts";

/** Settings of the sync loop. */
export interface SyncOptions {
  store: Pick<PlatformStore, "version">;
  /** Time between polls, in ms; bounds how stale another instance's change can be here. */
  intervalMs: number;
  /** Called when the version changed since the last poll. */
  onChange(): Promise<void>;
}

/** Starts polling; `stop` ends it. A failed poll (store down) is retried at the next tick. */
export function startSync(options: SyncOptions): { stop(): void } {
  let last: number | null = null;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = async () => {
    try {
      const version = await options.store.version();
      if (last !== null && version !== last) await options.onChange();
      last = version;
    } catch { /* the store is unreachable; /healthz reports it, and the next tick retries */ }
    if (!stopped) timer = setTimeout(tick, options.intervalMs);
  };
  timer = setTimeout(tick, 0);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

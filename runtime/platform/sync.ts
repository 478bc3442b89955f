/**
 * Keeps an instance in step with others sharing its store: polls the store's version and,
 * when it moves, reads the per-app versions to tell which apps changed, and lets the instance
 * re-read what it caches for those apps (live deployments, variables). A quiet poll costs one
 * small Redis call and needs no pub/sub.
 */
import type { PlatformStore } from "../store/types.ts";

/** Settings of the sync loop. */
export interface SyncOptions {
  store: Pick<PlatformStore, "version" | "appVersions">;
  /** Time between polls, in ms; bounds how stale another instance's change can be here. */
  intervalMs: number;
  /** Called with the apps whose live pointers or variables changed since the last poll. */
  onChange(appIds: Set<string>): Promise<void>;
}

/** Starts polling; `stop` ends it. A failed poll (store down) is retried at the next tick. */
export function startSync(options: SyncOptions): { stop(): void } {
  let lastVersion: number | null = null;
  let lastApps: Record<string, number> = {};
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = async () => {
    try {
      const version = await options.store.version();
      if (version !== lastVersion) {
        const apps = await options.store.appVersions();
        const changed = new Set(Object.keys(apps).filter((app) => apps[app] !== lastApps[app]));
        if (lastVersion !== null && changed.size > 0) await options.onChange(changed);
        lastVersion = version;
        lastApps = apps;
      }
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

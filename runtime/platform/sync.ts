/**
 * Keeps an instance in step with others sharing its store: checks the store's version and, when
 * it moved, reads the per-app versions to tell which apps changed, and lets the instance re-read
 * what it caches for those apps (live deployments, variables). A check runs when a change is
 * announced (pub/sub, over TCP), when the announcements' connection is (re)established (messages
 * sent while it was down are lost, so the version counter is the truth), and on a timer, which
 * bounds how stale an instance can be if an announcement never arrives.
 */
import type { RedisListener, RedisSubscription } from "./redis.ts";
import type { PlatformStore } from "../store/types.ts";

/** Settings of the sync loop. */
export interface SyncOptions {
  store: Pick<PlatformStore, "version" | "appVersions">;
  /** Time between timed checks, in ms. */
  intervalMs: number;
  /**
   * Subscribes to the store's change announcements, when its client can; each announcement and
   * each (re)connection triggers a check at once.
   */
  subscribe?: (listener: RedisListener) => Promise<RedisSubscription>;
  /** Called with the apps whose live pointers or variables changed since the last check. */
  onChange(appIds: Set<string>): Promise<void>;
}

/** What `startSync` answers: `stop` ends the checks and the subscription. */
export interface Sync {
  stop(): Promise<void>;
}

/** Starts checking; a failed check (store down) is retried at the next trigger. */
export function startSync(options: SyncOptions): Sync {
  let lastVersion: number | null = null;
  let lastApps: Record<string, number> = {};
  let stopped = false;
  let running: Promise<void> | null = null;
  /** A trigger came while a check ran: run one more after it, which sees that change too. */
  let again = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const check = async () => {
    try {
      const version = await options.store.version();
      if (version !== lastVersion) {
        const apps = await options.store.appVersions();
        const changed = new Set(Object.keys(apps).filter((app) => apps[app] !== lastApps[app]));
        if (lastVersion !== null && changed.size > 0) await options.onChange(changed);
        lastVersion = version;
        lastApps = apps;
      }
    } catch { /* the store is unreachable; /healthz reports it, and the next trigger retries */ }
  };
  const trigger = () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    clearTimeout(timer);
    running = (async () => {
      do {
        again = false;
        await check();
      } while (again && !stopped);
      running = null;
      if (!stopped) timer = setTimeout(trigger, options.intervalMs);
    })();
  };

  const subscription = options.subscribe?.({ message: trigger, ready: trigger });
  trigger();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await (await subscription)?.close();
      await running;
    },
  };
}

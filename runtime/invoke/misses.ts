/**
 * Logs requests that hit no function of a deployed app (a 404 from the router) without an entry
 * per request: as budget refusals are (runtime/invoke/refusals.ts), per app the first miss of a
 * window is logged, as a request entry with its method, path and status, with how many misses
 * there were since the previous report, and later ones in the window are only counted. Anonymous
 * traffic probing random paths writes one entry a window, so it cannot flush the app's history.
 */
import type { NewLogEntry } from "../logs/types.ts";
import { REFUSAL_WINDOW_MS } from "./refusals.ts";

/** Most app windows kept; past it, windows that have ended are forgotten. */
const MAX_WINDOWS = 10_000;
/** Longest path kept in an entry; a longer one (the client chooses it) is cut. */
const MAX_PATH_CHARS = 512;

/** One request that hit no function. */
export interface Miss {
  appId: string;
  environment: string;
  deploymentId: string;
  requestId: string;
  method: string;
  /** The path asked for, `/functions/...`. */
  path: string;
}

interface Window {
  /** When the window's entry was logged, in ms since the epoch. */
  start: number;
  /** Misses counted since that entry, not logged yet. */
  unreported: number;
}

/** Counts misses per app; answers the entry to log now, if one is due. */
export class MissReports {
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #windows = new Map<string, Window>();

  /** `windowMs`: at most one entry per app this often; `now`: the clock, in ms. */
  constructor(windowMs = REFUSAL_WINDOW_MS, now: () => number = Date.now) {
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /** Counts one miss; answers the log entry due now (a 404 request entry), or null. */
  report(miss: Miss): NewLogEntry | null {
    const now = this.#now();
    const window = this.#windows.get(miss.appId);
    if (window && now - window.start < this.#windowMs) {
      window.unreported++;
      return null;
    }
    const count = (window?.unreported ?? 0) + 1;
    this.#prune(now);
    this.#windows.set(miss.appId, { start: now, unreported: 0 });
    const path = miss.path.length > MAX_PATH_CHARS
      ? `${miss.path.slice(0, MAX_PATH_CHARS)}…`
      : miss.path;
    return {
      time: new Date(now).toISOString(),
      level: "warn",
      type: "request",
      app_id: miss.appId,
      environment: miss.environment,
      deployment_id: miss.deploymentId,
      function: null,
      request_id: miss.requestId,
      message: `${miss.method} ${path} 404: no function at this path (${count} ` +
        `${count === 1 ? "request" : "requests"} to no function since the last report; ` +
        `reported at most once every ${Math.round(this.#windowMs / 1000)} s)`,
      method: miss.method,
      path,
      status: 404,
    };
  }

  /** Forgets ended windows once there are many, so the map stays bounded. */
  #prune(now: number): void {
    if (this.#windows.size < MAX_WINDOWS) return;
    for (const [key, window] of this.#windows) {
      if (now - window.start >= this.#windowMs) this.#windows.delete(key);
    }
  }
}

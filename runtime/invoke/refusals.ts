/**
 * Reports budget refusals (runtime/budget.ts) without a log entry per refusal: per app and budget,
 * the first refusal of a window is logged with how many there were since the previous report,
 * and later ones in the window are only counted. A client hammering a rate-limited app writes one
 * entry a window, not one per request, so it cannot push the app's own history out of retention.
 */

/** Default length of a report window, in ms (one minute). */
export const REFUSAL_WINDOW_MS = 60_000;

/** Most (app, budget) windows kept; past it, windows that have ended are forgotten. */
const MAX_WINDOWS = 10_000;

interface Window {
  /** When the window's report was logged, in ms since the epoch. */
  start: number;
  /** Refusals counted since that report, not logged yet. */
  unreported: number;
}

/** Counts refusals per app and budget; answers the line to log now, if one is due. */
export class RefusalReports {
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #windows = new Map<string, Window>();

  /** `windowMs`: at most one line per app and budget this often; `now`: the clock, in ms. */
  constructor(windowMs = REFUSAL_WINDOW_MS, now: () => number = Date.now) {
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /** Counts one refusal of `appId` by `budget`; answers the log line due now, or null. */
  report(appId: string, budget: string, message: string): string | null {
    const now = this.#now();
    const key = `${appId}\u0000${budget}`;
    const window = this.#windows.get(key);
    if (window && now - window.start < this.#windowMs) {
      window.unreported++;
      return null;
    }
    const count = (window?.unreported ?? 0) + 1;
    this.#prune(now);
    this.#windows.set(key, { start: now, unreported: 0 });
    return `limit reached: ${message} (${count} ${count === 1 ? "refusal" : "refusals"} of ` +
      `"${budget}" since the last report; reported at most once every ` +
      `${Math.round(this.#windowMs / 1000)} s)`;
  }

  /** Forgets ended windows once there are many, so the map stays bounded. */
  #prune(now: number): void {
    if (this.#windows.size < MAX_WINDOWS) return;
    for (const [key, window] of this.#windows) {
      if (now - window.start >= this.#windowMs) this.#windows.delete(key);
    }
  }
}

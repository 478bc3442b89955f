/**
 * "Logged once a window, with a count": what the platform does with events a tenant or client can
 * cause on every request (budget refusals, dropped response headers, requests that hit no
 * function), so they cannot flush an app's log history. Per key, the first event of a window is
 * due for a report with how many there were since the previous one; later ones in the window are
 * only counted. Bounded: ended windows are forgotten once there are many.
 */

/** Default length of a report window, in ms (one minute). */
export const REPORT_WINDOW_MS = 60_000;

/** Most windows kept; past it, windows that have ended are forgotten. */
const MAX_WINDOWS = 10_000;

interface Window {
  /** When the window's report was made, in ms since the epoch. */
  start: number;
  /** Events counted since that report, not reported yet. */
  unreported: number;
}

/** Per-key report windows. */
export class ReportWindows {
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #windows = new Map<string, Window>();

  /** `windowMs`: at most one report per key this often; `now`: the clock, in ms. */
  constructor(windowMs = REPORT_WINDOW_MS, now: () => number = Date.now) {
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /** The window's length in whole seconds, for messages. */
  get seconds(): number {
    return Math.round(this.#windowMs / 1000);
  }

  /** The clock's time now, in ms (the one the windows are judged by). */
  now(): number {
    return this.#now();
  }

  /** Counts one event of `key`; answers how many to report now (this one included), or null. */
  count(key: string): number | null {
    const now = this.#now();
    const window = this.#windows.get(key);
    if (window && now - window.start < this.#windowMs) {
      window.unreported++;
      return null;
    }
    const count = (window?.unreported ?? 0) + 1;
    this.#prune(now);
    this.#windows.set(key, { start: now, unreported: 0 });
    return count;
  }

  #prune(now: number): void {
    if (this.#windows.size < MAX_WINDOWS) return;
    for (const [key, window] of this.#windows) {
      if (now - window.start >= this.#windowMs) this.#windows.delete(key);
    }
  }
}

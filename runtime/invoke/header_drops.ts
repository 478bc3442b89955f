/**
 * Reports the headers taken out of function responses (runtime/invoke/origin.ts) without a log
 * line per response: per app and header, the first drop of a window is logged, with how many
 * drops of that header there were since the previous report, and later drops in the window are
 * only counted. An app that sends `Clear-Site-Data` on every response gets one line a minute,
 * not one per request.
 */
import type { HeaderDrop } from "./origin.ts";

/** Default length of a report window, in ms (one minute). */
export const HEADER_DROP_WINDOW_MS = 60_000;

/** Most (app, header) windows kept; past it, windows that have ended are forgotten. */
const MAX_WINDOWS = 10_000;

interface Window {
  /** When the window's report was logged, in ms since the epoch. */
  start: number;
  /** Drops counted since that report, not logged yet. */
  unreported: number;
}

/** Counts header drops per app and header; answers the lines to log now. */
export class HeaderDropReports {
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #windows = new Map<string, Window>();

  /** `windowMs`: at most one line per app and header this often; `now`: the clock, in ms. */
  constructor(windowMs = HEADER_DROP_WINDOW_MS, now: () => number = Date.now) {
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /** Counts `drops` of one response of `appId`; answers the log lines due now (often none). */
  report(appId: string, drops: HeaderDrop[]): string[] {
    const lines: string[] = [];
    const now = this.#now();
    for (const drop of drops) {
      const key = `${appId}\u0000${drop.header}`;
      const window = this.#windows.get(key);
      if (window && now - window.start < this.#windowMs) {
        window.unreported++;
        continue;
      }
      const count = (window?.unreported ?? 0) + 1;
      this.#prune(now);
      this.#windows.set(key, { start: now, unreported: 0 });
      lines.push(
        `${drop.reason} (${count} ${count === 1 ? "time" : "times"} since the last report; ` +
          `reported at most once every ${Math.round(this.#windowMs / 1000)} s)`,
      );
    }
    return lines;
  }

  /** Forgets ended windows once there are many, so the map stays bounded. */
  #prune(now: number): void {
    if (this.#windows.size < MAX_WINDOWS) return;
    for (const [key, window] of this.#windows) {
      if (now - window.start >= this.#windowMs) this.#windows.delete(key);
    }
  }
}

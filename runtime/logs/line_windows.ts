/**
 * Per-app budgets of log lines per window (lines outside requests; console lines over all of an
 * app's requests): a line past the budget is counted, not kept, and when the window closes one
 * report says how many were dropped. The report is due at the first line of the next window, or
 * by a timer armed at the window's first drop, so an app that goes quiet hears of it too.
 */

/** A budget's figures: lines and characters per window of `windowMs`. */
export interface LineLimits {
  entries: number;
  chars: number;
  windowMs: number;
}

interface Window {
  since: number;
  entries: number;
  chars: number;
  dropped: number;
  droppedChars: number;
  timer?: ReturnType<typeof setTimeout> | undefined;
}

/** The windows of one budget, per app. */
export class LineWindows {
  readonly limits: LineLimits;
  readonly #report: (appId: string, dropped: number, droppedChars: number) => void;
  readonly #windows = new Map<string, Window>();

  /** `report` writes the entry saying what an app's closed window dropped. */
  constructor(
    limits: LineLimits,
    report: (appId: string, dropped: number, droppedChars: number) => void,
  ) {
    this.limits = limits;
    this.#report = report;
  }

  /**
   * Whether one more line of `length` characters (`counted` of them against the budget) fits
   * `appId`'s window; `full` refuses it whatever the window holds (the pipeline has no room).
   */
  admit(appId: string, length: number, counted = length, full = false): boolean {
    const now = Date.now();
    let window = this.#windows.get(appId);
    if (!window || now - window.since >= this.limits.windowMs) {
      if (window) this.#close(appId, window);
      window = { since: now, entries: 0, chars: 0, dropped: 0, droppedChars: 0 };
      this.#windows.set(appId, window);
    }
    if (
      full || window.entries >= this.limits.entries || window.chars + counted > this.limits.chars
    ) {
      if (window.dropped++ === 0) {
        const current = window;
        current.timer = setTimeout(() => {
          if (this.#windows.get(appId) === current) this.#windows.delete(appId);
          this.#close(appId, current);
        }, Math.max(0, window.since + this.limits.windowMs - now));
      }
      window.droppedChars += length;
      return false;
    }
    window.entries++;
    window.chars += counted;
    return true;
  }

  /** Reports every window's drops now and forgets them (at shutdown). */
  closeAll(): void {
    for (const [appId, window] of this.#windows) this.#close(appId, window);
    this.#windows.clear();
  }

  #close(appId: string, window: Window): void {
    clearTimeout(window.timer);
    window.timer = undefined;
    if (window.dropped === 0) return;
    this.#report(appId, window.dropped, window.droppedChars);
    window.dropped = 0;
    window.droppedChars = 0;
  }
}

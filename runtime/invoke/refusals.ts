/**
 * Reports budget refusals (runtime/budget.ts) without a log entry per refusal: per app and budget,
 * the first refusal of a window is logged with how many there were since the previous report,
 * and later ones in the window are only counted. A client hammering a rate-limited app writes one
 * entry a window, not one per request, so it cannot push the app's own history out of retention.
 */
import { REPORT_WINDOW_MS, ReportWindows } from "./report_windows.ts";

/** Counts refusals per app and budget; answers the line to log now, if one is due. */
export class RefusalReports {
  readonly #windows: ReportWindows;

  /** `windowMs`: at most one line per app and budget this often; `now`: the clock, in ms. */
  constructor(windowMs = REPORT_WINDOW_MS, now: () => number = Date.now) {
    this.#windows = new ReportWindows(windowMs, now);
  }

  /** Counts one refusal of `appId` by `budget`; answers the log line due now, or null. */
  report(appId: string, budget: string, message: string): string | null {
    const count = this.#windows.count(`${appId}\u0000${budget}`);
    if (count === null) return null;
    return `limit reached: ${message} (${count} ${count === 1 ? "refusal" : "refusals"} of ` +
      `"${budget}" since the last report; reported at most once every ` +
      `${this.#windows.seconds} s)`;
  }
}

/**
 * Reports the headers taken out of function responses (runtime/invoke/origin.ts) without a log
 * line per response: per app and header, the first drop of a window is logged, with how many
 * drops of that header there were since the previous report, and later drops in the window are
 * only counted. An app that sends `Clear-Site-Data` on every response gets one line a minute,
 * not one per request.
 */
import type { HeaderDrop } from "./origin.ts";
import { REPORT_WINDOW_MS, ReportWindows } from "./report_windows.ts";

/** Counts header drops per app and header; answers the lines to log now. */
export class HeaderDropReports {
  readonly #windows: ReportWindows;

  /** `windowMs`: at most one line per app and header this often; `now`: the clock, in ms. */
  constructor(windowMs = REPORT_WINDOW_MS, now: () => number = Date.now) {
    this.#windows = new ReportWindows(windowMs, now);
  }

  /** Counts `drops` of one response of `appId`; answers the log lines due now (often none). */
  report(appId: string, drops: HeaderDrop[]): string[] {
    const lines: string[] = [];
    for (const drop of drops) {
      const count = this.#windows.count(`${appId}\u0000${drop.header}`);
      if (count === null) continue;
      lines.push(
        `${drop.reason} (${count} ${count === 1 ? "time" : "times"} since the last report; ` +
          `reported at most once every ${this.#windows.seconds} s)`,
      );
    }
    return lines;
  }
}

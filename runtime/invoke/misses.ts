/**
 * Logs requests that hit no function of a deployed app (a 404 from the router) without an entry
 * per request: as budget refusals are (runtime/invoke/refusals.ts), per app the first miss of a
 * window is logged, as a request entry with its method, path and status, with how many misses
 * there were since the previous report, and later ones in the window are only counted. Anonymous
 * traffic probing random paths writes one entry a window, so it cannot flush the app's history.
 */
import { loggedPath } from "../logs/logs.ts";
import type { NewLogEntry } from "../logs/types.ts";
import { REPORT_WINDOW_MS, ReportWindows } from "./report_windows.ts";

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

/** Counts misses per app; answers the entry to log now, if one is due. */
export class MissReports {
  readonly #windows: ReportWindows;

  /** `windowMs`: at most one entry per app this often; `now`: the clock, in ms. */
  constructor(windowMs = REPORT_WINDOW_MS, now: () => number = Date.now) {
    this.#windows = new ReportWindows(windowMs, now);
  }

  /** Counts one miss; answers the log entry due now (a 404 request entry), or null. */
  report(miss: Miss): NewLogEntry | null {
    const count = this.#windows.count(miss.appId);
    if (count === null) return null;
    const path = loggedPath(miss.path);
    return {
      time: new Date(this.#windows.now()).toISOString(),
      level: "warn",
      type: "request",
      app_id: miss.appId,
      environment: miss.environment,
      deployment_id: miss.deploymentId,
      function: null,
      request_id: miss.requestId,
      message: `${miss.method} ${path} 404: no function at this path (${count} ` +
        `${count === 1 ? "request" : "requests"} to no function since the last report; ` +
        `reported at most once every ${this.#windows.seconds} s)`,
      method: miss.method,
      path,
      status: 404,
    };
  }
}

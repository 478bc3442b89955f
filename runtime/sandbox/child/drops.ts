/**
 * Reports the reserved headers (framing, connection) taken out of a sandbox's responses without
 * a line per response: per header, the first drop of a window is logged with how many there
 * were since the last report, later ones only counted. A framework that sets `Content-Length`
 * on every response gets one line a minute, not one per request.
 */

/** Length of a report window, in ms (one minute). */
const WINDOW_MS = 60_000;

/** Counts reserved-header drops of one sandbox process; answers the lines due now. */
export class ReservedHeaderDrops {
  readonly #windows = new Map<string, { start: number; unreported: number }>();

  /** Counts the `headers` dropped from one response; answers the log lines to write now. */
  report(headers: string[], now = Date.now()): string[] {
    const lines: string[] = [];
    for (const header of headers) {
      const window = this.#windows.get(header);
      if (window && now - window.start < WINDOW_MS) {
        window.unreported++;
        continue;
      }
      const count = (window?.unreported ?? 0) + 1;
      this.#windows.set(header, { start: now, unreported: 0 });
      lines.push(
        `a ${header} header was dropped from the response: the server frames responses and ` +
          `handles connections itself (${count} ${count === 1 ? "time" : "times"} since the ` +
          `last report; reported at most once a minute)`,
      );
    }
    return lines;
  }
}

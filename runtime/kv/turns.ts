/**
 * When the host works on an app's KV calls: at most `perApp` calls of one app at once (each may
 * build a reply of up to 3 MB, MAX_KV_REPLY_BYTES, before it is sent, so an app with hundreds of
 * calls in flight would have the host hold hundreds of them), each within the app's share of the
 * host's time (invoke/host_time.ts). A call is charged the time its store call took to return
 * (the embedded store's statements run then) and its reply's encoding (charged by the sandbox),
 * measured, plus CALL_COST_MS for decoding it and its turn. Not charged: decoding a large
 * argument beyond CALL_COST_MS, and the COMMIT that an event-loop iteration's writes share.
 * Past either bound a call waits, in arrival order; nothing is refused (an app's concurrent
 * calls stay correct, only slower).
 */
import type { HostTime } from "../invoke/host_time.ts";

/** What one call is charged beyond what is measured: decoding its frame, and its turn (5 µs). */
export const CALL_COST_MS = 0.005;

/** Turns per app, and the host-time share each call is checked against. */
export class KvTurns {
  readonly #perApp: number;
  readonly #time: HostTime;
  readonly #running = new Map<string, number>();
  readonly #waiting = new Map<string, Array<() => void>>();

  /** `perApp`: calls of one app at once; `time`: the host-time shares, shared with fetches. */
  constructor(perApp: number, time: HostTime) {
    this.#perApp = perApp;
    this.#time = time;
  }

  /**
   * Runs `work` once the app has a turn and room in its share; the turn is given back when it
   * settles. The share is checked after the turn is taken, so a burst queued for turns cannot
   * pass it together: each call is checked against every call that ran before it.
   */
  async run<T>(appId: string, work: () => Promise<T>): Promise<T> {
    const running = this.#running.get(appId) ?? 0;
    if (running >= this.#perApp) {
      await new Promise<void>((resolve) => {
        let queue = this.#waiting.get(appId);
        if (!queue) this.#waiting.set(appId, queue = []);
        queue.push(resolve);
      });
    } else this.#running.set(appId, running + 1);
    try {
      return await this.#time.run(appId, work, (ms) => ms + CALL_COST_MS);
    } finally {
      this.#next(appId);
    }
  }

  /** Hands the turn to the app's next waiting call, or gives it back. */
  #next(appId: string): void {
    const queue = this.#waiting.get(appId);
    const next = queue?.shift();
    if (queue?.length === 0) this.#waiting.delete(appId);
    if (next) {
      next();
      return;
    }
    const running = (this.#running.get(appId) ?? 1) - 1;
    if (running > 0) this.#running.set(appId, running);
    else this.#running.delete(appId);
  }
}

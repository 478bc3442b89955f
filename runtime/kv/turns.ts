/**
 * How many KV calls of one app the host works on at once: each may build a reply of up to 3 MB
 * (MAX_KV_REPLY_BYTES) before it is sent, so an app with hundreds of calls in flight would have
 * the host hold hundreds of them. Past the figure a call waits its turn, in arrival order; it is
 * not refused (an app's concurrent calls stay correct, only slower).
 */

/** Turns per app: at most `perApp` calls of one app at once, the others queued. */
export class KvTurns {
  readonly #perApp: number;
  readonly #running = new Map<string, number>();
  readonly #waiting = new Map<string, Array<() => void>>();

  constructor(perApp: number) {
    this.#perApp = perApp;
  }

  /** Runs `work` once the app has a turn; the turn is given back when it settles. */
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
      return await work();
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

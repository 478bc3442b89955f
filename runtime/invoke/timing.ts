/**
 * Where one function request spent its time, sent as `Server-Timing`: total, queueing (waiting
 * for a sandbox slot), sandbox (starting the deployment in a process, on a cold start), handler
 * (the code itself, round trip), and KV and fetch calls with their count. Durations in ms.
 */

/** The time of one invocation, filled as it runs. */
export class RequestTiming {
  readonly #started = performance.now();
  /** Waiting for a sandbox slot, in ms. */
  queueMs = 0;
  /** Starting the deployment in a sandbox (0 when one was already serving it), in ms. */
  sandboxMs = 0;
  /** The handler's round trip, in ms. */
  handlerMs = 0;
  readonly kv = { count: 0, ms: 0 };
  readonly fetch = { count: 0, ms: 0 };

  /** Runs `call`, adding its duration to `bucket`. */
  async measure<T>(bucket: { count: number; ms: number }, call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    bucket.count++;
    try {
      return await call();
    } finally {
      bucket.ms += performance.now() - started;
    }
  }

  /** The `Server-Timing` header value. */
  header(): string {
    const ms = (value: number) => value.toFixed(2);
    return [
      `total;dur=${ms(performance.now() - this.#started)}`,
      `queue;dur=${ms(this.queueMs)}`,
      `sandbox;dur=${ms(this.sandboxMs)}`,
      `handler;dur=${ms(this.handlerMs)}`,
      `kv;dur=${ms(this.kv.ms)};desc="${this.kv.count} calls"`,
      `fetch;dur=${ms(this.fetch.ms)};desc="${this.fetch.count} calls"`,
    ].join(", ");
  }
}

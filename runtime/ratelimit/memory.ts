/** The embedded RateLimiter: token buckets in this process's memory. */
import type { Bucket, RateLimiter, Taken } from "./types.ts";

/** Buckets untouched this long are forgotten (full again), in ms. */
const FORGET_MS = 60_000;

/** Token buckets of one process. */
export class MemoryRateLimiter implements RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; atMs: number }>();
  #swept = Date.now();

  take(key: string, bucket: Bucket): Promise<Taken> {
    const now = Date.now();
    this.#sweep(now);
    const state = this.#buckets.get(key) ?? { tokens: bucket.burst, atMs: now };
    state.tokens = Math.min(bucket.burst, state.tokens + ((now - state.atMs) / 1000) * bucket.rps);
    state.atMs = now;
    this.#buckets.set(key, state);
    if (state.tokens >= 1) {
      state.tokens -= 1;
      return Promise.resolve({ allowed: true, retryAfterMs: 0 });
    }
    return Promise.resolve({
      allowed: false,
      retryAfterMs: Math.ceil(((1 - state.tokens) / bucket.rps) * 1000),
    });
  }

  #sweep(now: number): void {
    if (now - this.#swept < FORGET_MS) return;
    this.#swept = now;
    for (const [key, state] of this.#buckets) {
      if (now - state.atMs > FORGET_MS) this.#buckets.delete(key);
    }
  }
}

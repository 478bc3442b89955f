/** Rate limits: what an app sets, and the seam to the token buckets that enforce them. */

/** A token bucket: `rps` tokens a second, holding at most `burst`. */
export interface Bucket {
  rps: number;
  burst: number;
}

/** An app's rate limit: for the whole app, and optionally per route file. */
export interface RateLimit extends Bucket {
  /** Route file (`api/x.ts`) → its own bucket, checked as well as the app's. */
  functions: Record<string, Bucket>;
}

/** What taking a token answered. */
export interface Taken {
  allowed: boolean;
  /** When a token will be there again, in ms (0 when allowed). */
  retryAfterMs: number;
}

/**
 * Token buckets by key; the embedded one lives in this process, the Redis one is shared by
 * every instance.
 *
 * @example
 * ```ts
 * const limiter: RateLimiter = new MemoryRateLimiter();
 * await limiter.take("app-1", { rps: 5, burst: 5 }); // → { allowed: true, retryAfterMs: 0 }
 * ```
 */
export interface RateLimiter {
  /** Takes one token from `key`'s bucket, refilled at `bucket.rps` up to `bucket.burst`. */
  take(key: string, bucket: Bucket): Promise<Taken>;
}

/**
 * Apps' rate limits: read and written through the store (so every instance sees a change),
 * cached per app, and enforced before a request reaches its sandbox.
 */
import { BudgetRefusal } from "../budget.ts";
import type { PlatformStore } from "../store/types.ts";
import type { Bucket, RateLimit, RateLimiter } from "./types.ts";

/** Highest rate and burst one bucket may be set to. */
export const MAX_RPS = 100_000;

/** Dependencies of the rate limits service. */
export interface RateLimitsOptions {
  store: PlatformStore;
  limiter: RateLimiter;
}

/** Reads, writes and enforces apps' rate limits. */
export class RateLimits {
  readonly #options: RateLimitsOptions;
  readonly #cache = new Map<string, Promise<RateLimit | null>>();

  constructor(options: RateLimitsOptions) {
    this.#options = options;
  }

  /** The app's limit, or null when it has none. */
  get(appId: string): Promise<RateLimit | null> {
    let cached = this.#cache.get(appId);
    if (!cached) {
      cached = this.#options.store.getRateLimit(appId);
      this.#cache.set(appId, cached);
      cached.catch(() => this.#cache.delete(appId));
    }
    return cached;
  }

  /** Sets (or with null, removes) the app's limit, already checked by the API. */
  async set(appId: string, limit: RateLimit | null): Promise<RateLimit | null> {
    await this.#options.store.setRateLimit(appId, limit);
    this.invalidate(appId);
    return limit;
  }

  /** Forgets the cached limit of an app (another instance changed it). */
  invalidate(appId: string): void {
    this.#cache.delete(appId);
  }

  /**
   * Takes a token for a request to `file`; throws a BudgetRefusal (429 with `retry-after`) past
   * a limit, under the budget `rate limit` (the app's bucket) or `rate limit of <file>`.
   */
  async admit(appId: string, environment: string, file: string): Promise<void> {
    const limit = await this.get(appId);
    if (!limit) return;
    const checks: Array<[string, Bucket, string, string]> = [
      [`${appId}:${environment}`, limit, `app "${appId}"`, "rate limit"],
    ];
    if (Object.hasOwn(limit.functions, file)) {
      checks.push([
        `${appId}:${environment}:${file}`,
        limit.functions[file]!,
        file,
        `rate limit of ${file}`,
      ]);
    }
    for (const [key, bucket, what, budget] of checks) {
      const taken = await this.#options.limiter.take(key, bucket);
      if (!taken.allowed) {
        const seconds = Math.max(1, Math.ceil(taken.retryAfterMs / 1000));
        throw new BudgetRefusal(
          "limit",
          budget,
          `rate limit reached for ${what}: ${bucket.rps} requests per second, bursts of ` +
            `${bucket.burst}; retry after ${seconds} s`,
          seconds,
        );
      }
    }
  }
}

/**
 * Apps' rate limits: read and written through the store (so every instance sees a change),
 * cached per app, and enforced before a request reaches its sandbox.
 */
import { BudgetRefusal } from "../budget.ts";
import { isUnavailable } from "../errors.ts";
import { ReadCache } from "../store/read_cache.ts";
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
  /** Per app; keeps the last good limit while the store is unreachable. */
  readonly #cache: ReadCache<string, RateLimit | null>;

  constructor(options: RateLimitsOptions) {
    this.#options = options;
    this.#cache = new ReadCache({
      read: (appId) => options.store.getRateLimit(appId),
      isOutage: isUnavailable,
    });
  }

  /** The app's limit, or null when it has none. */
  get(appId: string): Promise<RateLimit | null> {
    return this.#cache.get(appId);
  }

  /** Sets (or with null, removes) the app's limit, already checked by the API. */
  async set(appId: string, limit: RateLimit | null): Promise<RateLimit | null> {
    await this.#options.store.setRateLimit(appId, limit);
    this.invalidate(appId);
    return limit;
  }

  /** Marks the cached limit of an app changed (here or on another instance): read it again. */
  invalidate(appId: string): void {
    this.#cache.invalidate((key) => key === appId);
  }

  /**
   * Takes a token for a request to `file`; throws a BudgetRefusal (429 with `retry-after`) past
   * a limit, under the budget `rate limit` (the app's bucket) or `rate limit of <file>`.
   * Answers undefined, not a promise, when the app is known to have no limit.
   */
  admit(appId: string, environment: string, file: string): Promise<void> | undefined {
    const known = this.#cache.peek(appId);
    // The common case, an app with no limit, is answered at once.
    if (known && !known.current) return undefined;
    return this.#admit(appId, environment, file);
  }

  async #admit(appId: string, environment: string, file: string): Promise<void> {
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

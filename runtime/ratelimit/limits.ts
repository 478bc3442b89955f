/**
 * Apps' rate limits: read and written through the store (so every instance sees a change),
 * cached per app, and enforced before a request reaches its sandbox.
 */
import { badRequest, HttpError } from "../errors.ts";
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

  /** Sets (or with null, removes) the app's limit; refuses a malformed one with 400. */
  async set(appId: string, limit: unknown): Promise<RateLimit | null> {
    const checked = limit === null ? null : parseRateLimit(limit);
    await this.#options.store.setRateLimit(appId, checked);
    this.invalidate(appId);
    return checked;
  }

  /** Forgets the cached limit of an app (another instance changed it). */
  invalidate(appId: string): void {
    this.#cache.delete(appId);
  }

  /** Takes a token for a request to `file`; throws 429 with `retry-after` past a limit. */
  async admit(appId: string, environment: string, file: string): Promise<void> {
    const limit = await this.get(appId);
    if (!limit) return;
    const checks: Array<[string, Bucket, string]> = [
      [`${appId}:${environment}`, limit, `app "${appId}"`],
    ];
    if (Object.hasOwn(limit.functions, file)) {
      checks.push([`${appId}:${environment}:${file}`, limit.functions[file], file]);
    }
    for (const [key, bucket, what] of checks) {
      const taken = await this.#options.limiter.take(key, bucket);
      if (!taken.allowed) {
        const seconds = Math.max(1, Math.ceil(taken.retryAfterMs / 1000));
        throw new HttpError(
          429,
          `rate limit reached for ${what}: ${bucket.rps} requests per second, bursts of ` +
            `${bucket.burst}; retry after ${seconds} s`,
          {},
          { "retry-after": String(seconds) },
        );
      }
    }
  }
}

function bucketOf(value: unknown, where: string): Bucket {
  const { rps, burst } = (value ?? {}) as Record<string, unknown>;
  if (typeof rps !== "number" || !(rps > 0) || rps > MAX_RPS) {
    throw badRequest(
      `${where}.rps must be a number of requests per second above 0, at most ${MAX_RPS}`,
    );
  }
  const size = burst ?? Math.max(1, Math.ceil(rps));
  if (typeof size !== "number" || !Number.isInteger(size) || size < 1 || size > MAX_RPS) {
    throw badRequest(`${where}.burst must be a whole number from 1 to ${MAX_RPS}`);
  }
  return { rps, burst: size };
}

/** Checks a rate limit from the API: `{ rps, burst?, functions?: { "api/x.ts": { rps, burst? } } }`. */
export function parseRateLimit(value: unknown): RateLimit {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw badRequest('the body must be a JSON object like { "rps": 10, "burst": 20 }');
  }
  const app = bucketOf(value, "body");
  const functions: Record<string, Bucket> = {};
  const given = (value as { functions?: unknown }).functions ?? {};
  if (typeof given !== "object" || given === null || Array.isArray(given)) {
    throw badRequest("functions must be an object of route file → { rps, burst }");
  }
  for (const [file, bucket] of Object.entries(given)) {
    if (!/^api\/[^\0]{1,500}\.(ts|js)$/.test(file)) {
      throw badRequest(`functions: "${file.slice(0, 100)}" is not a route file like "api/x.ts"`);
    }
    functions[file] = bucketOf(bucket, `functions["${file}"]`);
  }
  return { ...app, functions };
}

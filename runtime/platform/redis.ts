/** The one place a Redis client (Upstash REST protocol) is configured, for every Redis-backed store. */
import { Redis } from "@upstash/redis";
import { PlatformError } from "../errors.ts";

/** Connection settings: UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN and a per-call timeout. */
export interface RedisOptions {
  url: string;
  token: string;
  /** How long one call may take before it fails, in ms. */
  timeoutMs: number;
}

/** A client that returns strings exactly as stored and fails fast when Redis is unreachable. */
export function createRedis(options: RedisOptions): Redis {
  return new Redis({
    url: options.url,
    token: options.token,
    // Values are strings and must come back exactly as stored: "1" stays "1".
    automaticDeserialization: false,
    responseEncoding: false,
    enableTelemetry: false,
    retry: { retries: 1, backoff: () => 50 },
    signal: () => AbortSignal.timeout(options.timeoutMs),
  });
}

/** Whether a client error means Redis (or its REST front) could not be reached in time. */
function isUnavailable(error: unknown): boolean {
  const e = error as { name?: string; message?: string };
  return e?.name === "TimeoutError" || e?.name === "AbortError" || e?.name === "TypeError" ||
    /fetch|connect|network|abort|timed out|ECONN|Connection is closed|Unauthorized|5\d\d/i.test(
      e?.message ?? "",
    );
}

/**
 * Runs a Redis call; if Redis cannot be reached, throws one `unavailable` PlatformError naming
 * `what` (never the address or the token) instead of the client's error.
 */
export async function whenReachable<T>(operation: () => Promise<T>, what: string): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (!isUnavailable(error)) throw error;
    throw new PlatformError("unavailable", `${what} is unreachable right now; try again shortly`, {
      cause: error,
    });
  }
}

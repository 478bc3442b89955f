/**
 * The Redis RateLimiter: one token bucket per key in a hash (`rl:<key>`), refilled and taken
 * by one Lua script, so every instance draws from the same bucket.
 */
import { PlatformError } from "../errors.ts";
import { evalCommand, type RedisClient, whenReachable } from "../platform/redis.ts";
import type { Bucket, RateLimiter, Taken } from "./types.ts";

/** KEYS: bucket. ARGV: now ms, rps, burst. Answers {allowed (0/1), retry after ms}. */
const TAKE_LUA = `
local now = tonumber(ARGV[1])
local rps = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1] or ARGV[3])
local at = tonumber(state[2] or ARGV[1])
tokens = math.min(burst, tokens + math.max(0, now - at) / 1000 * rps)
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = math.ceil((1 - tokens) / rps * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rps * 1000) + 1000)
return {allowed, retry}
`;

/** Token buckets shared through Redis. */
export class RedisRateLimiter implements RateLimiter {
  readonly #redis: RedisClient;

  constructor(redis: RedisClient) {
    this.#redis = redis;
  }

  async take(key: string, bucket: Bucket): Promise<Taken> {
    const [allowed, retry] = await whenReachable(
      () =>
        this.#redis.send(
          evalCommand(TAKE_LUA, [`rl:${key}`], [Date.now(), bucket.rps, bucket.burst]),
        ) as Promise<[number, number]>,
      "the rate limit store",
    ).catch((error) => {
      // With Redis down, limits cannot be judged: let requests through rather than fail them.
      if (error instanceof PlatformError) return [1, 0];
      throw error;
    });
    return { allowed: Number(allowed) === 1, retryAfterMs: Number(retry) };
  }
}

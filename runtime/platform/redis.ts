/**
 * The seam between the Redis-backed stores and the client that carries their commands: a small
 * command interface, implemented over TCP with node-redis (redis_tcp.ts, REDIS_URL) and over the
 * Upstash REST protocol (redis_rest.ts, UPSTASH_REDIS_REST_URL). Stores send raw commands and read
 * Redis's own replies, so they behave the same whichever client carries them.
 */
import { PlatformError } from "../errors.ts";

/** One argument of a Redis command; numbers are sent as their decimal text. */
export type RedisArg = string | number;

/**
 * A reply as Redis sends it (RESP2): bulk and status strings as strings, integers as numbers,
 * arrays as arrays, nil as null. HGETALL answers a flat `[field, value, …]` array (see `pairs`).
 */
export type RedisReply = string | number | null | RedisReply[];

/** A subscription to one channel; `close` ends it. */
export interface RedisSubscription {
  close(): Promise<void>;
}

/** What a subscriber is told: each message, and each time its connection is (re)established. */
export interface RedisListener {
  /** A message published on the channel. */
  message(text: string): void;
  /**
   * The subscription is (again) in place: messages published while it was not were lost, so the
   * subscriber should catch up from the store itself.
   */
  ready(): void;
}

/** The commands every Redis-backed store needs, whatever carries them. */
export interface RedisClient {
  /** Runs one command; rejects with RedisUnavailableError or RedisReplyError. */
  send(args: RedisArg[]): Promise<RedisReply>;
  /**
   * Runs commands in one round trip, in order (not a transaction: others' commands may come
   * between); answers each reply, and rejects if any command fails.
   */
  pipeline(commands: RedisArg[][]): Promise<RedisReply[]>;
  /**
   * Delivers messages published on `channel` (over a connection of its own, re-established after
   * a disconnect). Absent when the client cannot subscribe (the REST protocol).
   */
  subscribe?(channel: string, listener: RedisListener): Promise<RedisSubscription>;
  /** Why the last call failed to reach Redis, with no credentials in it; null if none did. */
  lastProblem(): string | null;
  close(): Promise<void>;
}

/** Redis could not be reached in time (down, refused, timed out, or refusing our credentials). */
export class RedisUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RedisUnavailableError";
  }
}

/** Redis answered a command with an error reply (e.g. WRONGTYPE, a failing script). */
export class RedisReplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RedisReplyError";
  }
}

/** The EVAL command running `script` with `keys` and `args`. */
export function evalCommand(script: string, keys: string[], args: RedisArg[]): RedisArg[] {
  return ["EVAL", script, keys.length, ...keys, ...args];
}

/** A flat `[field, value, …]` reply (HGETALL) as an object; null or empty gives `{}`. */
export function pairs(reply: RedisReply): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  return out;
}

/** A reply that is an array of bulk strings (or nils), typed as such. */
export function strings(reply: RedisReply): Array<string | null> {
  return Array.isArray(reply) ? reply.map((r) => r === null ? null : String(r)) : [];
}

/** A Redis URL with its password (and user) replaced, for messages and logs. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(an unparsable URL)";
  }
}

/**
 * Runs a Redis call; if Redis cannot be reached, throws one `unavailable` PlatformError naming
 * `what` (never the address or the credentials) instead of the client's error.
 */
export async function whenReachable<T>(operation: () => Promise<T>, what: string): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (!(error instanceof RedisUnavailableError)) throw error;
    throw new PlatformError("unavailable", `${what} is unreachable right now; try again shortly`, {
      cause: error,
    });
  }
}

/**
 * The Redis KvBackend, over the Upstash REST protocol (`@upstash/redis`). Keys live at
 * `kv:<appId>:<key>`; app ids cannot contain `:` or glob characters, so one app's prefix
 * never matches another's keys. `keys()` walks SCAN, never KEYS.
 */
import type { Redis } from "@upstash/redis";
import { whenReachable } from "../redis.ts";
import type { KvBackend } from "./types.ts";

/** The store could not be reached; the message is safe to show a handler (no address, no token). */
export class KvUnavailableError extends Error {
  constructor() {
    super("the KV store is unavailable right now; try again shortly");
    this.name = "KvUnavailableError";
  }
}

const SCAN_COUNT = 1000;

/** A KvBackend on Redis through the Upstash REST API. */
export class UpstashKv implements KvBackend {
  readonly #redis: Redis;

  /** Uses a client from runtime/redis.ts (strings as stored, short timeouts). */
  constructor(redis: Redis) {
    this.#redis = redis;
  }

  get(appId: string, key: string): Promise<string | null> {
    return this.#call(() => this.#redis.get<string>(prefix(appId) + key));
  }

  async set(appId: string, key: string, value: string, ttlSeconds: number): Promise<void> {
    await this.#call(() => this.#redis.set(prefix(appId) + key, value, { ex: ttlSeconds }));
  }

  async del(appId: string, key: string): Promise<void> {
    await this.#call(() => this.#redis.del(prefix(appId) + key));
  }

  async keys(appId: string): Promise<string[]> {
    const start = prefix(appId);
    const found = new Set<string>();
    let cursor = "0";
    do {
      const [next, batch] = await this.#call(() =>
        this.#redis.scan(cursor, { match: `${start}*`, count: SCAN_COUNT })
      );
      for (const key of batch) found.add(key.slice(start.length));
      cursor = String(next);
    } while (cursor !== "0");
    return [...found];
  }

  async ping(): Promise<void> {
    await this.#call(() => this.#redis.ping());
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  #call<T>(operation: () => Promise<T>): Promise<T> {
    return whenReachable(operation, () => new KvUnavailableError());
  }
}

function prefix(appId: string): string {
  return `kv:${appId}:`;
}

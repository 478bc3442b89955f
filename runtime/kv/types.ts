/** The seam between `ctx.kv` and the store behind it. Every method is scoped to one app. */

/** Default time to live of a key, in seconds (30 days). */
export const DEFAULT_TTL_SECONDS = 30 * 24 * 60 * 60;

/** What one app may hold: keys, and bytes of keys plus values (UTF-8). */
export interface KvQuota {
  maxKeys: number;
  maxBytes: number;
}

/** One page of an app's keys in UTF-8 byte order. */
export interface KvListPage {
  keys: string[];
  /** Pass back as `cursor` for the next page; null when `done`. */
  cursor: string | null;
  /** Whether no keys remain after this page. A page is empty only when it is the last. */
  done: boolean;
}

/** How to list: keys starting with `prefix`, after `cursor`, at most `limit` of them. */
export interface KvListOptions {
  prefix: string;
  cursor: string | null;
  limit: number;
}

/** A write refused because the app's KV quota is full; its message names the limit. */
export class KvQuotaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KvQuotaError";
  }
}

/** The message of a refused write: which bound, the figure, and what to do. */
export function quotaMessage(kind: "keys" | "bytes", quota: KvQuota, used: number): string {
  return kind === "keys"
    ? `kv.set: this app already holds ${used} keys, the limit; delete some first`
    : `kv.set: this write would bring the app's KV data to ${used} bytes, over the limit of ` +
      `${quota.maxBytes} bytes`;
}

/**
 * A per-app key-value store with a quota; implementations keep apps' keys fully apart and pass
 * the shared suite in tests/kv_test.ts.
 *
 * @example
 * ```ts
 * const kv: KvBackend = new SqliteKv(":memory:", { maxKeys: 10_000, maxBytes: 100 << 20 });
 * await kv.set("app-1", "greeting", "hello", DEFAULT_TTL_SECONDS);
 * await kv.list("app-1", { prefix: "greet", cursor: null, limit: 100 });
 * // → { keys: ["greeting"], cursor: null, done: true }
 * ```
 */
export interface KvBackend {
  /** The value of `key` in `appId`, byte-for-byte as stored, or null if absent or expired. */
  get(appId: string, key: string): Promise<string | null>;
  /** Writes `value`, expiring after `ttlSeconds`; throws KvQuotaError past the app's quota. */
  set(appId: string, key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Deletes `key`; deleting an absent key is not an error. */
  del(appId: string, key: string): Promise<void>;
  /** A page of unexpired keys of `appId`, without any internal prefix. */
  list(appId: string, options: KvListOptions): Promise<KvListPage>;
  /** Throws if the store cannot be reached. */
  ping(): Promise<void>;
  /** Releases connections and files. */
  close(): Promise<void>;
}

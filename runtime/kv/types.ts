/** The seam between `ctx.kv` and the store behind it. Every method is scoped to one app. */
import { PlatformError } from "../errors.ts";

/** Default time to live of a key, in seconds (30 days). */
export const DEFAULT_TTL_SECONDS = 30 * 24 * 60 * 60;

/**
 * Most bytes of values (UTF-8) one KV reply may carry (3 MB): the reply travels to the sandbox in
 * one frame header of at most 4 MB (runtime/sandbox/protocol.ts), and the host never builds more.
 */
export const MAX_KV_REPLY_BYTES = 3 * 1024 * 1024;

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

/** A value with its expiry. */
export interface KvEntry {
  value: string;
  /** When the key expires, in ms since the epoch. */
  expiresAt: number;
}

/** How to list: keys starting with `prefix`, after `cursor`, at most `limit` of them. */
export interface KvListOptions {
  prefix: string;
  cursor: string | null;
  limit: number;
}

/** A write refused because the app's KV quota is full (`too-large`); its message names the limit. */
export class KvQuotaError extends PlatformError {
  constructor(message: string) {
    super("too-large", message);
    this.name = "KvQuotaError";
  }
}

/**
 * A read refused because its reply would carry more than `MAX_KV_REPLY_BYTES` (`too-large`);
 * raised while the reply is being gathered, before it is built.
 */
export class KvReplyError extends PlatformError {
  constructor(op: string, keys: number, bytes: number, limit: number) {
    super(
      "too-large",
      `kv.${op}: the values of the first ${keys} keys already come to ${bytes} bytes, over the ` +
        `limit of ${limit} bytes for one reply; read fewer keys at once`,
    );
    this.name = "KvReplyError";
  }
}

/** An operation refused because of what the key holds (incr on a value that is not an integer). */
export class KvTypeError extends PlatformError {
  constructor(message: string) {
    super("invalid", message);
    this.name = "KvTypeError";
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
  /**
   * Writes `value` keeping the key's remaining expiry, atomically; a key that is absent (or
   * expired) gets `ttlSeconds`. Throws KvQuotaError past the app's quota.
   */
  setKeepingExpiry(appId: string, key: string, value: string, ttlSeconds: number): Promise<void>;
  /** The value of `key` with when it expires (ms since the epoch), or null if absent or expired. */
  entry(appId: string, key: string): Promise<KvEntry | null>;
  /**
   * Writes `value` only if the key now holds `expected` (null: only if it is absent), atomically;
   * answers whether it wrote. Throws KvQuotaError past the quota.
   */
  setIf(
    appId: string,
    key: string,
    value: string,
    ttlSeconds: number,
    expected: string | null,
  ): Promise<boolean>;
  /**
   * Adds `by` to the integer the key holds (0 if absent), atomically, and answers the result. An
   * existing key keeps its expiry; a new one expires after `ttlSeconds`. Throws KvTypeError if
   * the value is not an integer or the result is not a safe integer.
   */
  incr(appId: string, key: string, by: number, ttlSeconds: number): Promise<number>;
  /**
   * The values of `keys`, in order (null for absent ones). Throws KvReplyError as soon as the
   * values read so far pass `maxBytes` (UTF-8), without reading the rest.
   */
  getMany(appId: string, keys: string[], maxBytes: number): Promise<Array<string | null>>;
  /** Deletes `key`; deleting an absent key is not an error. */
  del(appId: string, key: string): Promise<void>;
  /** A page of unexpired keys of `appId`, without any internal prefix. */
  list(appId: string, options: KvListOptions): Promise<KvListPage>;
  /** Throws if the store cannot be reached. */
  ping(): Promise<void>;
  /** Releases connections and files. */
  close(): Promise<void>;
}

/** The seam between `ctx.kv` and the store behind it. Every method is scoped to one app. */

/** Default time to live of a key, in seconds (30 days). */
export const DEFAULT_TTL_SECONDS = 30 * 24 * 60 * 60;

/** A per-app key-value store; implementations must keep apps' keys fully apart. */
export interface KvBackend {
  /** The value of `key` in `appId`, byte-for-byte as stored, or null if absent or expired. */
  get(appId: string, key: string): Promise<string | null>;
  /** Writes `value`, expiring after `ttlSeconds`. */
  set(appId: string, key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Deletes `key`; deleting an absent key is not an error. */
  del(appId: string, key: string): Promise<void>;
  /** Every unexpired key of `appId`, without any internal prefix. */
  keys(appId: string): Promise<string[]>;
  /** Throws if the store cannot be reached. */
  ping(): Promise<void>;
  /** Releases connections and files. */
  close(): Promise<void>;
}

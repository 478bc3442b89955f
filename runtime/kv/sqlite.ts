/**
 * The embedded KvBackend: SQLite (node:sqlite) in one local file, WAL mode. Keys are stored
 * under (app, key) columns, so no key text can reach another app's rows; expired rows are
 * never returned and are purged in the background. Keys and values are UTF-8 BLOBs, because
 * SQLite's TEXT would cut a string at its first NUL character. Each app's keys and bytes are
 * counted in `kv_usage`, kept in step with every write, delete and purge.
 *
 * Rows live in a rowid table (`kv_values`) found through a unique index on (app, key): the index
 * holds only keys, so one app's 1 MB values never sit in the B-tree that every app's lookups
 * walk. (The first layout, a `WITHOUT ROWID` table `kv`, kept values in its clustered B-tree: one
 * app filling its quota with 1 MB values made another's reads over 100× slower. A store in that layout
 * is copied over once, at open.)
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { GroupCommit, inTransaction, openDatabase } from "../platform/sqlite.ts";
import {
  type KvBackend,
  type KvEntry,
  type KvListOptions,
  type KvListPage,
  type KvQuota,
  KvQuotaError,
  KvReplyError,
  KvTypeError,
  quotaMessage,
} from "./types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string) => encoder.encode(text);
/** Above every UTF-8 byte sequence that starts with the same bytes: the end of a prefix range. */
const AFTER = new Uint8Array([0xff]);

/** How often expired rows are deleted, in ms. */
const PURGE_INTERVAL_MS = 60_000;

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Copies the rows of the first layout (`kv`, WITHOUT ROWID) into `kv_values` and drops it; call
 * inside a transaction. A store without that table is left as it is.
 */
function migrateClusteredTable(db: DatabaseSync): void {
  const old = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'kv'").get();
  if (!old) return;
  db.exec(`
    INSERT OR REPLACE INTO kv_values (app, key, value, expires_at)
      SELECT app, key, value, expires_at FROM kv;
    DROP TABLE kv;
  `);
}

/** How often a write refused by the quota may purge its app's expired rows first, in ms. */
const APP_PURGE_EVERY_MS = 1000;

/** A KvBackend on a local SQLite file (`:memory:` for a throwaway one). */
export class SqliteKv implements KvBackend {
  readonly #db: DatabaseSync;
  /**
   * KV writes of one event-loop iteration share a transaction; each is answered once it is
   * committed (see GroupCommit).
   */
  readonly #writes: GroupCommit;
  /** When each app at its quota last had its expired rows purged by a write, in ms. */
  readonly #purgedAt = new Map<string, number>();
  readonly #quota: KvQuota;
  readonly #get: StatementSync;
  readonly #getWithin: StatementSync;
  readonly #current: StatementSync;
  readonly #size: StatementSync;
  readonly #set: StatementSync;
  readonly #del: StatementSync;
  readonly #list: StatementSync;
  readonly #usage: StatementSync;
  readonly #count: StatementSync;
  readonly #saveUsage: StatementSync;
  /**
   * Usage per app, read once from kv_usage (every write needs it) and kept current here; the
   * apps in `#dirty` are written back to kv_usage once per transaction, just before its COMMIT.
   */
  readonly #usages = new Map<string, { keys: number; bytes: number }>();
  readonly #dirty = new Set<string>();
  readonly #expiredByApp: StatementSync;
  readonly #purge: StatementSync;
  readonly #purgeApp: StatementSync;
  readonly #expiredOfApp: StatementSync;
  readonly #timer: ReturnType<typeof setInterval>;
  /**
   * Keys and values are encoded into these for the statement that binds them (SQLite copies a
   * bound BLOB before the call returns): no buffer of their own per call. A key is at most 512
   * UTF-8 bytes; a value too large for its buffer gets one of its own.
   */
  readonly #keyBuffer = new Uint8Array(4 * 1024);
  readonly #valueBuffer = new Uint8Array(64 * 1024);

  constructor(path: string, quota: KvQuota) {
    this.#quota = quota;
    // The KV file is this server's alone (several servers share KV through Redis).
    this.#db = openDatabase(path, { exclusive: true });
    this.#writes = new GroupCommit(this.#db, {
      beforeCommit: () => this.#writeUsages(),
      onLost: () => {
        this.#usages.clear();
        this.#dirty.clear();
      },
    });
    inTransaction(this.#db, () => {
      this.#db.exec(`
        CREATE TABLE IF NOT EXISTS kv_values (
          id INTEGER PRIMARY KEY, app TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,
          expires_at INTEGER NOT NULL
        );
        CREATE UNIQUE INDEX IF NOT EXISTS kv_values_key ON kv_values (app, key);
        CREATE INDEX IF NOT EXISTS kv_values_expiry ON kv_values (expires_at);
        CREATE TABLE IF NOT EXISTS kv_usage (
          app TEXT PRIMARY KEY, keys INTEGER NOT NULL, bytes INTEGER NOT NULL
        ) WITHOUT ROWID;
      `);
      migrateClusteredTable(this.#db);
    });
    this.#get = this.#db.prepare(
      "SELECT value FROM kv_values WHERE app = ? AND key = ? AND expires_at > ?",
    );
    // length() of a BLOB reads the row's header, not its pages: a value over the budget is
    // measured without being read.
    this.#getWithin = this.#db.prepare(
      `SELECT length(value) AS size, CASE WHEN length(value) <= ? THEN value END AS value
       FROM kv_values WHERE app = ? AND key = ? AND expires_at > ?`,
    );
    this.#current = this.#db.prepare(
      "SELECT value, expires_at FROM kv_values WHERE app = ? AND key = ? AND expires_at > ?",
    );
    this.#size = this.#db.prepare(
      "SELECT length(key) + length(value) AS size FROM kv_values WHERE app = ? AND key = ?",
    );
    this.#set = this.#db.prepare(
      `INSERT INTO kv_values (app, key, value, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (app, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
    );
    this.#del = this.#db.prepare("DELETE FROM kv_values WHERE app = ? AND key = ?");
    this.#list = this.#db.prepare(
      `SELECT key FROM kv_values WHERE app = ? AND key >= ? AND key < ? AND key > ? AND expires_at > ?
       ORDER BY key LIMIT ?`,
    );
    this.#usage = this.#db.prepare("SELECT keys, bytes FROM kv_usage WHERE app = ?");
    this.#count = this.#db.prepare(
      "SELECT COUNT(*) AS keys, COALESCE(SUM(length(key) + length(value)), 0) AS bytes FROM kv_values WHERE app = ?",
    );
    this.#saveUsage = this.#db.prepare(
      `INSERT INTO kv_usage (app, keys, bytes) VALUES (?, ?, ?)
       ON CONFLICT (app) DO UPDATE SET keys = excluded.keys, bytes = excluded.bytes`,
    );
    this.#expiredByApp = this.#db.prepare(
      `SELECT app, COUNT(*) AS keys, SUM(length(key) + length(value)) AS bytes FROM kv_values
       WHERE expires_at <= ? GROUP BY app`,
    );
    this.#expiredOfApp = this.#db.prepare(
      `SELECT COUNT(*) AS keys, COALESCE(SUM(length(key) + length(value)), 0) AS bytes FROM kv_values
       WHERE app = ? AND expires_at <= ?`,
    );
    this.#purge = this.#db.prepare("DELETE FROM kv_values WHERE expires_at <= ?");
    this.#purgeApp = this.#db.prepare("DELETE FROM kv_values WHERE app = ? AND expires_at <= ?");
    this.#timer = setInterval(() => this.#purgeExpired(), PURGE_INTERVAL_MS);
  }

  /** `text`'s UTF-8 bytes in `buffer` when they fit, else in a buffer of their own. */
  #encoded(text: string, buffer: Uint8Array): Uint8Array {
    const { read, written } = encoder.encodeInto(text, buffer);
    return read === text.length ? buffer.subarray(0, written) : encoder.encode(text);
  }

  /** A key's bytes for one statement (valid until the next key is encoded). */
  #key(key: string): Uint8Array {
    return this.#encoded(key, this.#keyBuffer);
  }

  /** A value's bytes for one statement (valid until the next value is encoded). */
  #value(value: string): Uint8Array {
    return this.#encoded(value, this.#valueBuffer);
  }

  get(appId: string, key: string): Promise<string | null> {
    const row = this.#get.get(appId, this.#key(key), Date.now()) as
      | { value: Uint8Array }
      | undefined;
    return Promise.resolve(row ? decoder.decode(row.value) : null);
  }

  set(appId: string, key: string, value: string, ttlSeconds: number): Promise<void> {
    return this.#writes.run(
      () => this.#put(appId, this.#key(key), this.#value(value), Date.now() + ttlSeconds * 1000),
    );
  }

  setKeepingExpiry(appId: string, key: string, value: string, ttlSeconds: number): Promise<void> {
    return this.#writes.run(() => {
      const k = this.#key(key);
      const now = Date.now();
      const row = this.#current.get(appId, k, now) as { expires_at: number } | undefined;
      this.#put(appId, k, this.#value(value), row?.expires_at ?? now + ttlSeconds * 1000);
    });
  }

  entry(appId: string, key: string): Promise<KvEntry | null> {
    const row = this.#current.get(appId, this.#key(key), Date.now()) as
      | { value: Uint8Array; expires_at: number }
      | undefined;
    return Promise.resolve(
      row ? { value: decoder.decode(row.value), expiresAt: row.expires_at } : null,
    );
  }

  setIf(
    appId: string,
    key: string,
    value: string,
    ttlSeconds: number,
    expected: string | null,
  ): Promise<boolean> {
    let written = false;
    const committed = this.#writes.run(() => {
      const k = this.#key(key);
      const row = this.#get.get(appId, k, Date.now()) as { value: Uint8Array } | undefined;
      const current = row ? decoder.decode(row.value) : null;
      if (current !== expected) return;
      this.#put(appId, k, this.#value(value), Date.now() + ttlSeconds * 1000);
      written = true;
    });
    return committed.then(() => written);
  }

  incr(appId: string, key: string, by: number, ttlSeconds: number): Promise<number> {
    let result = 0;
    const committed = this.#writes.run(() => {
      const k = this.#key(key);
      const now = Date.now();
      const row = this.#current.get(appId, k, now) as
        | { value: Uint8Array; expires_at: number }
        | undefined;
      const text = row ? decoder.decode(row.value) : "0";
      if (!/^-?\d{1,16}$/.test(text)) {
        throw new KvTypeError(`kv.incr: the value of "${key.slice(0, 64)}" is not an integer`);
      }
      result = Number(text) + by;
      if (!Number.isSafeInteger(result)) {
        throw new KvTypeError(`kv.incr: the result would not be a safe integer`);
      }
      this.#put(appId, k, this.#value(String(result)), row?.expires_at ?? now + ttlSeconds * 1000);
    });
    return committed.then(() => result);
  }

  getMany(appId: string, keys: string[], maxBytes: number): Promise<Array<string | null>> {
    const out: Array<string | null> = [];
    let total = 0;
    const now = Date.now();
    for (const key of keys) {
      const row = this.#getWithin.get(maxBytes - total, appId, this.#key(key), now) as
        | { size: number; value: Uint8Array | null }
        | undefined;
      if (!row) {
        out.push(null);
        continue;
      }
      total += row.size;
      if (row.value === null || total > maxBytes) {
        throw new KvReplyError("getMany", out.length + 1, total, maxBytes);
      }
      out.push(decoder.decode(row.value));
    }
    return Promise.resolve(out);
  }

  /** Writes a row, keeping the app's usage in step; call inside a transaction. */
  #put(appId: string, k: Uint8Array, v: Uint8Array, expiresAt: number): void {
    let usage = this.#usageOf(appId);
    const size = k.length + v.length;
    let next = this.#after(usage, this.#sizeOf(appId, k), size);
    if (next.refused) {
      // Expired rows still count until purged: purge this app's, then judge again. At most once
      // a second per app: the purge visits every row of the app, and an app at its quota could
      // otherwise make the host do it for each refused write.
      const now = Date.now();
      if (now - (this.#purgedAt.get(appId) ?? -Infinity) >= APP_PURGE_EVERY_MS) {
        this.#purgedAt.set(appId, now);
        usage = this.#purgeExpiredOf(appId, usage);
        next = this.#after(usage, this.#sizeOf(appId, k), size);
      }
      if (next.refused) {
        const figure = next.refused === "keys" ? usage.keys : next.bytes;
        throw new KvQuotaError(quotaMessage(next.refused, this.#quota, figure));
      }
    }
    this.#set.run(appId, k, v, expiresAt);
    this.#saveUsageOf(appId, next);
  }

  #sizeOf(appId: string, k: Uint8Array): number | undefined {
    return (this.#size.get(appId, k) as { size: number } | undefined)?.size;
  }

  del(appId: string, key: string): Promise<void> {
    const k = this.#key(key);
    return this.#writes.run(() => {
      const old = this.#sizeOf(appId, k);
      if (old === undefined) return;
      const usage = this.#usageOf(appId);
      this.#del.run(appId, k);
      this.#saveUsageOf(appId, { keys: usage.keys - 1, bytes: usage.bytes - old });
    });
  }

  list(appId: string, options: KvListOptions): Promise<KvListPage> {
    const prefix = bytes(options.prefix);
    const after = options.cursor === null ? new Uint8Array(0) : bytes(options.cursor);
    const rows = this.#list.all(
      appId,
      prefix,
      concat(prefix, AFTER),
      after,
      Date.now(),
      options.limit + 1,
    ) as Array<{ key: Uint8Array }>;
    const done = rows.length <= options.limit;
    const keys = rows.slice(0, options.limit).map((row) => decoder.decode(row.key));
    return Promise.resolve({ keys, cursor: done ? null : keys[keys.length - 1]!, done });
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    clearInterval(this.#timer);
    this.#writes.flush();
    this.#db.close();
    return Promise.resolve();
  }

  /** The usage after writing `size` bytes over a row of `old` bytes (undefined: a new key). */
  #after(usage: { keys: number; bytes: number }, old: number | undefined, size: number) {
    const keys = usage.keys + (old === undefined ? 1 : 0);
    const total = usage.bytes - (old ?? 0) + size;
    const refused = old === undefined && keys > this.#quota.maxKeys
      ? "keys" as const
      : total > this.#quota.maxBytes && size > (old ?? 0)
      ? "bytes" as const
      : null;
    return { keys, bytes: total, refused };
  }

  #usageOf(appId: string): { keys: number; bytes: number } {
    const known = this.#usages.get(appId);
    if (known) return known;
    const row = this.#usage.get(appId) as { keys: number; bytes: number } | undefined;
    if (row) {
      this.#usages.set(appId, { keys: row.keys, bytes: row.bytes });
      return row;
    }
    // A store written before usage was counted: count once.
    const counted = this.#count.get(appId) as { keys: number; bytes: number };
    this.#saveUsageOf(appId, counted);
    return counted;
  }

  /**
   * An app's usage after a write that was made: kept here, and written to kv_usage before the
   * transaction's COMMIT (a lost transaction clears both).
   */
  #saveUsageOf(appId: string, usage: { keys: number; bytes: number }): void {
    this.#usages.set(appId, { keys: usage.keys, bytes: usage.bytes });
    this.#dirty.add(appId);
  }

  /** Writes the usage of the apps written since the last commit; runs just before it. */
  #writeUsages(): void {
    for (const appId of this.#dirty) {
      const usage = this.#usages.get(appId);
      if (usage) this.#saveUsage.run(appId, usage.keys, usage.bytes);
    }
    this.#dirty.clear();
  }

  #purgeExpiredOf(appId: string, usage: { keys: number; bytes: number }) {
    const now = Date.now();
    const expired = this.#expiredOfApp.get(appId, now) as { keys: number; bytes: number };
    this.#purgeApp.run(appId, now);
    const next = { keys: usage.keys - expired.keys, bytes: usage.bytes - expired.bytes };
    this.#saveUsageOf(appId, next);
    return next;
  }

  #purgeExpired(): void {
    this.#purgedAt.clear();
    // Nobody waits on a purge's commit, and one that fails (a full disk) must not end the
    // process from this timer: its rows are purged again at the next interval.
    try {
      void this.#writes.run(() => {
        const now = Date.now();
        const expired = this.#expiredByApp.all(now) as Array<
          { app: string; keys: number; bytes: number }
        >;
        const after = expired.map((row) => {
          const usage = this.#usageOf(row.app);
          return [row.app, {
            keys: usage.keys - row.keys,
            bytes: usage.bytes - row.bytes,
          }] as const;
        });
        // The one write, last: the usage it changes is kept only once it was made.
        this.#purge.run(now);
        for (const [app, usage] of after) this.#saveUsageOf(app, usage);
      });
    } catch (error) {
      console.error("the embedded KV store could not purge its expired keys:", error);
    }
  }
}

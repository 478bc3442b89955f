/**
 * The embedded KvBackend: SQLite (node:sqlite) in one local file, WAL mode. Keys are stored
 * under (app, key) columns, so no key text can reach another app's rows; expired rows are
 * never returned and are purged in the background. Keys and values are UTF-8 BLOBs, because
 * SQLite's TEXT would cut a string at its first NUL character.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { KvBackend } from "./types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (text: string) => encoder.encode(text);

/** Rows read per page by `keys()`, which yields between pages so one big app cannot stall others. */
const KEYS_PAGE = 1000;
/** How often expired rows are deleted, in ms. */
const PURGE_INTERVAL_MS = 60_000;

/** A KvBackend on a local SQLite file (`:memory:` for a throwaway one). */
export class SqliteKv implements KvBackend {
  readonly #db: DatabaseSync;
  readonly #get: StatementSync;
  readonly #set: StatementSync;
  readonly #del: StatementSync;
  readonly #page: StatementSync;
  readonly #purge: StatementSync;
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      CREATE TABLE IF NOT EXISTS kv (
        app TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, expires_at INTEGER NOT NULL,
        PRIMARY KEY (app, key)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS kv_expiry ON kv (expires_at);
    `);
    this.#get = this.#db.prepare(
      "SELECT value FROM kv WHERE app = ? AND key = ? AND expires_at > ?",
    );
    this.#set = this.#db.prepare(
      `INSERT INTO kv (app, key, value, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (app, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
    );
    this.#del = this.#db.prepare("DELETE FROM kv WHERE app = ? AND key = ?");
    this.#page = this.#db.prepare(
      "SELECT key FROM kv WHERE app = ? AND key > ? AND expires_at > ? ORDER BY key LIMIT ?",
    );
    this.#purge = this.#db.prepare("DELETE FROM kv WHERE expires_at <= ?");
    this.#timer = setInterval(() => this.#purge.run(Date.now()), PURGE_INTERVAL_MS);
  }

  get(appId: string, key: string): Promise<string | null> {
    const row = this.#get.get(appId, bytes(key), Date.now()) as { value: Uint8Array } | undefined;
    return Promise.resolve(row ? decoder.decode(row.value) : null);
  }

  set(appId: string, key: string, value: string, ttlSeconds: number): Promise<void> {
    this.#set.run(appId, bytes(key), bytes(value), Date.now() + ttlSeconds * 1000);
    return Promise.resolve();
  }

  del(appId: string, key: string): Promise<void> {
    this.#del.run(appId, bytes(key));
    return Promise.resolve();
  }

  async keys(appId: string): Promise<string[]> {
    const keys: string[] = [];
    let after: Uint8Array = new Uint8Array(0);
    while (true) {
      const rows = this.#page.all(appId, after, Date.now(), KEYS_PAGE) as Array<
        { key: Uint8Array }
      >;
      for (const row of rows) keys.push(decoder.decode(row.key));
      if (rows.length < KEYS_PAGE) return keys;
      after = rows[rows.length - 1].key;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    clearInterval(this.#timer);
    this.#db.close();
    return Promise.resolve();
  }
}

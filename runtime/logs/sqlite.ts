/**
 * The embedded LogStore: SQLite (node:sqlite) in DATA_DIR, so runtime logs survive a restart,
 * keeping about `maxPerApp` entries per app (oldest dropped first, as the Redis stream does).
 * Ids are `<ms>-<seq>`, increasing across restarts. The live tail is fed in-process.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { inTransaction, openDatabase } from "../platform/sqlite.ts";
import { matches, PageBuilder } from "./query.ts";
import { TailHub } from "./tail.ts";
import type { LogEntry, LogPage, LogQuery, LogStore, NewLogEntry } from "./types.ts";

/** Rows written by one statement when a batch is large enough. */
const INSERT_BATCH = 32;

/** Rows read per step of a filtered query. */
const PAGE = 500;

/** A LogStore on a local SQLite file (`:memory:` for a throwaway one). */
export class SqliteLogStore implements LogStore {
  readonly #db: DatabaseSync;
  readonly #maxPerApp: number;
  readonly #insert: StatementSync;
  readonly #insertMany: StatementSync;
  readonly #page: StatementSync;
  readonly #count: StatementSync;
  readonly #trim: StatementSync;
  readonly #oldestKept: StatementSync;
  readonly #counts = new Map<string, number>();
  readonly #tail = new TailHub();
  #lastMs = 0;
  #seq = 0;

  constructor(path: string, maxPerApp: number) {
    this.#maxPerApp = maxPerApp;
    this.#db = openDatabase(path);
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS logs (
        app TEXT NOT NULL, ms INTEGER NOT NULL, seq INTEGER NOT NULL, entry TEXT NOT NULL,
        PRIMARY KEY (app, ms, seq)
      ) WITHOUT ROWID;
    `);
    this.#insert = this.#db.prepare("INSERT INTO logs (app, ms, seq, entry) VALUES (?, ?, ?, ?)");
    this.#insertMany = this.#db.prepare(
      `INSERT INTO logs (app, ms, seq, entry) VALUES ${
        Array(INSERT_BATCH).fill("(?, ?, ?, ?)").join(", ")
      }`,
    );
    this.#page = this.#db.prepare(
      `SELECT ms, seq, octet_length(entry) AS bytes, entry FROM logs
       WHERE app = ? AND (ms < ? OR (ms = ? AND seq < ?))
       ORDER BY ms DESC, seq DESC LIMIT ?`,
    );
    this.#count = this.#db.prepare("SELECT COUNT(*) AS n FROM logs WHERE app = ?");
    // From the oldest end: a trim reads only the rows it deletes, not the whole retention.
    this.#trim = this.#db.prepare(
      `DELETE FROM logs WHERE app = ?1 AND (ms, seq) <= (
         SELECT ms, seq FROM logs WHERE app = ?1 ORDER BY ms ASC, seq ASC LIMIT 1 OFFSET ?2)`,
    );
    this.#oldestKept = this.#db.prepare(
      "SELECT ms, seq FROM logs WHERE app = ? ORDER BY ms DESC, seq DESC LIMIT 1 OFFSET ?",
    );
    const last = this.#db.prepare("SELECT MAX(ms) AS ms FROM logs").get() as { ms: number | null };
    this.#lastMs = last.ms ?? 0;
    this.#seq = 1_000_000;
  }

  append(entries: NewLogEntry[]): Promise<void> {
    const added: LogEntry[] = [];
    inTransaction(this.#db, () => {
      const rows: Array<string | number> = [];
      for (const fields of entries) {
        const [ms, seq] = this.#nextId();
        const entry = { id: `${ms}-${seq}`, ...fields };
        rows.push(entry.app_id, ms, seq, JSON.stringify(entry));
        added.push(entry);
        this.#counted(entry.app_id, 1);
      }
      // Many rows a statement: fewer calls into SQLite for a busy server's batches.
      let at = 0;
      for (; at + INSERT_BATCH * 4 <= rows.length; at += INSERT_BATCH * 4) {
        this.#insertMany.run(...rows.slice(at, at + INSERT_BATCH * 4));
      }
      for (; at < rows.length; at += 4) this.#insert.run(...rows.slice(at, at + 4));
    });
    for (const entry of added) this.#tail.publish(entry);
    return Promise.resolve();
  }

  query(appId: string, query: LogQuery): Promise<LogPage> {
    const page = new PageBuilder(query.limit);
    let [ms = Infinity, seq = 0] = query.cursor ? query.cursor.split("-").map(Number) : [];
    if (!Number.isFinite(ms)) [ms, seq] = [Number.MAX_SAFE_INTEGER, 0];
    // Rows past the retention wait for a batched trim; they are already gone to readers.
    const oldest = this.#oldestKept.get(appId, this.#maxPerApp - 1) as
      | { ms: number; seq: number }
      | undefined;
    const kept = (row: { ms: number; seq: number }) =>
      !oldest || row.ms > oldest.ms || (row.ms === oldest.ms && row.seq >= oldest.seq);
    let scanned = 0;
    // Row by row (iterate, not all): the host holds one row beyond the page, never a batch.
    scan: while (scanned < this.#maxPerApp * 1.1) {
      let read = 0;
      let last: { ms: number; seq: number } | undefined;
      for (const raw of this.#page.iterate(appId, ms, ms, seq, PAGE)) {
        const row = raw as { ms: number; seq: number; bytes: number; entry: string };
        read++;
        last = row;
        if (!kept(row)) break scan;
        const entry = JSON.parse(row.entry) as LogEntry;
        if (matches(entry, query) && !page.offer(entry, row.bytes)) break scan;
      }
      scanned += read;
      if (read < PAGE || !last) break;
      ({ ms, seq } = last);
    }
    return Promise.resolve(page.page());
  }

  tail(appId: string, signal: AbortSignal): AsyncIterable<LogEntry> {
    return this.#tail.subscribe(appId, signal);
  }

  close(): Promise<void> {
    this.#db.close();
    return Promise.resolve();
  }

  /** Counts `n` new entries of an app; trims its oldest once it is 10% over the retention. */
  #counted(appId: string, n: number): void {
    let count = this.#counts.get(appId);
    if (count === undefined) count = (this.#count.get(appId) as { n: number }).n - n;
    count += n;
    if (count > this.#maxPerApp * 1.1) {
      this.#trim.run(appId, count - this.#maxPerApp - 1);
      count = this.#maxPerApp;
    }
    this.#counts.set(appId, count);
  }

  #nextId(): [number, number] {
    const now = Date.now();
    if (now > this.#lastMs) {
      this.#lastMs = now;
      this.#seq = 0;
    } else this.#seq++;
    return [this.#lastMs, this.#seq];
  }
}

/**
 * The embedded LogStore: SQLite (node:sqlite) in DATA_DIR, so runtime logs survive a restart,
 * keeping about `maxPerApp` entries per app (oldest dropped first, as the Redis stream does).
 * Ids are `<ms>-<seq>`, increasing across restarts. The live tail is fed in-process. Reads use
 * this connection; writes go to a writer of their own (sqlite_writer.ts: a worker thread).
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { openDatabase } from "../platform/sqlite.ts";
import { createLogTable, type LogRows, type LogWriter, startLogWriter } from "./sqlite_writer.ts";
import { matches, PageBuilder } from "./query.ts";
import { TailHub } from "./tail.ts";
import type { LogEntry, LogPage, LogQuery, LogStore, NewLogEntry } from "./types.ts";

/** Rows read per step of a filtered query. */
const PAGE = 500;

/** A LogStore on a local SQLite file (`:memory:` for a throwaway one). */
export class SqliteLogStore implements LogStore {
  readonly #db: DatabaseSync;
  readonly #maxPerApp: number;
  readonly #writer: LogWriter;
  readonly #page: StatementSync;
  readonly #oldestKept: StatementSync;
  readonly #tail = new TailHub();
  #lastMs = 0;
  #seq = 0;

  constructor(path: string, maxPerApp: number) {
    this.#maxPerApp = maxPerApp;
    this.#db = openDatabase(path);
    createLogTable(this.#db);
    this.#page = this.#db.prepare(
      `SELECT ms, seq, octet_length(entry) AS bytes, entry FROM logs
       WHERE app = ? AND (ms < ? OR (ms = ? AND seq < ?))
       ORDER BY ms DESC, seq DESC LIMIT ?`,
    );
    this.#oldestKept = this.#db.prepare(
      "SELECT ms, seq FROM logs WHERE app = ? ORDER BY ms DESC, seq DESC LIMIT 1 OFFSET ?",
    );
    const last = this.#db.prepare("SELECT MAX(ms) AS ms FROM logs").get() as { ms: number | null };
    this.#lastMs = last.ms ?? 0;
    this.#seq = 1_000_000;
    this.#writer = startLogWriter(path, this.#db, maxPerApp);
  }

  async append(entries: NewLogEntry[]): Promise<void> {
    const added: LogEntry[] = [];
    const rows: LogRows = [];
    for (const fields of entries) {
      const [ms, seq] = this.#nextId();
      const entry = { id: `${ms}-${seq}`, ...fields };
      rows.push(entry.app_id, ms, seq, JSON.stringify(entry));
      added.push(entry);
    }
    await this.#writer.write(rows);
    for (const entry of added) this.#tail.publish(entry);
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

  async close(): Promise<void> {
    await this.#writer.close();
    this.#db.close();
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

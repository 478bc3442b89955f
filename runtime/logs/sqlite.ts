/**
 * The embedded LogStore: SQLite (node:sqlite) in DATA_DIR, so runtime logs survive a restart,
 * keeping `maxPerApp` entries per app (oldest dropped first, as the Redis stream does). Ids are
 * `<ms>-<seq>`, increasing across restarts. Entries are stored in batch rows, one per app and
 * flush (sqlite_writer.ts). The live tail is fed in-process. Reads use this connection; writes
 * go to a writer of their own (a worker thread).
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { setImmediate } from "node:timers";
import { openDatabase } from "../platform/sqlite.ts";
import {
  createLogTable,
  type LogColumns,
  type LogWriter,
  NEXT_NUMBER_SQL,
  startLogWriter,
} from "./sqlite_writer.ts";
import { matches, MAX_READ_BYTES, PageBuilder } from "./query.ts";
import { TailHub } from "./tail.ts";
import type { LogEntry, LogPage, LogQuery, LogStore, NewLogEntry } from "./types.ts";

/** Batch rows read per step of a query. */
const PAGE = 100;
/** The byte that ends each entry's JSON in a batch row ("\n", which JSON text escapes). */
const NEWLINE = 0x0a;

const decoder = new TextDecoder();

/** Whether the id `ms`-`seq` is older than `ms2`-`seq2`. */
function older(ms: number, seq: number, ms2: number, seq2: number): boolean {
  return ms < ms2 || (ms === ms2 && seq < seq2);
}

/** A LogStore on a local SQLite file (`:memory:` for a throwaway one). */
export class SqliteLogStore implements LogStore {
  readonly #db: DatabaseSync;
  readonly #maxPerApp: number;
  readonly #writer: LogWriter;
  readonly #page: StatementSync;
  readonly #next: StatementSync;
  readonly #tail = new TailHub();
  #lastMs = 0;
  #closed = false;
  #seq = 0;

  constructor(path: string, maxPerApp: number) {
    this.#maxPerApp = maxPerApp;
    this.#db = openDatabase(path);
    createLogTable(this.#db);
    this.#page = this.#db.prepare(
      `SELECT ms, seq, first, n, entries FROM log_batches
       WHERE app = ? AND (ms < ? OR (ms = ? AND seq < ?))
       ORDER BY ms DESC, seq DESC LIMIT ?`,
    );
    this.#next = this.#db.prepare(NEXT_NUMBER_SQL);
    // The last entry's time, not the first's: one append may run past a millisecond.
    const last = this.#db.prepare("SELECT MAX(last_ms) AS ms FROM log_batches").get() as {
      ms: number | null;
    };
    this.#lastMs = last.ms ?? 0;
    this.#seq = 1_000_000;
    this.#writer = startLogWriter(path, this.#db, maxPerApp);
  }

  async append(entries: NewLogEntry[]): Promise<void> {
    // The entries' fields as they are: the writer thread makes the rows and their JSON.
    const columns: LogColumns = [];
    const published: LogEntry[] = [];
    for (const e of entries) {
      this.#nextId();
      const ms = this.#lastMs;
      const seq = this.#seq;
      columns.push(
        ms,
        seq,
        e.time,
        e.level,
        e.type,
        e.app_id,
        e.environment,
        e.deployment_id,
        e.function,
        e.request_id,
        e.message,
        e.method,
        e.path,
        e.status,
        e.duration_ms,
      );
      if (this.#tail.listening(e.app_id)) published.push({ id: `${ms}-${seq}`, ...e });
    }
    await this.#writer.write(columns);
    for (const entry of published) this.#tail.publish(entry);
  }

  /**
   * A page of the app's entries, newest first. Read in steps of at most PAGE batch rows and
   * about MAX_READ_BYTES, each a task of its own: a filter that matches nothing scans the app's
   * whole retention, and other requests are served between its steps.
   */
  async query(appId: string, query: LogQuery): Promise<LogPage> {
    const page = new PageBuilder(query.limit);
    let [ms = Infinity, seq = 0] = query.cursor ? query.cursor.split("-").map(Number) : [];
    if (!Number.isFinite(ms)) [ms, seq] = [Number.MAX_SAFE_INTEGER, 0];
    // Entries past the retention wait for a trim of whole batches; they are gone to readers.
    const next = (this.#next.get(appId) as { next: number } | undefined)?.next ?? 0;
    const oldestKept = next - this.#maxPerApp;
    // The batch holding the cursor's entry starts at or before it: read from just after it.
    let from = { ms, seq: seq + 1 };
    let scanned = 0;
    scan: while (scanned < this.#maxPerApp * 1.1) {
      let read = 0;
      let bytesRead = 0;
      let last: { ms: number; seq: number } | undefined;
      // Row by row (iterate, not all): the host holds one batch row beyond the page.
      for (const raw of this.#page.iterate(appId, from.ms, from.ms, from.seq, PAGE)) {
        const row = raw as {
          ms: number;
          seq: number;
          first: number;
          n: number;
          entries: Uint8Array;
        };
        read++;
        last = row;
        bytesRead += row.entries.length;
        let end = row.entries.length;
        // Newest first: the batch's lines from its last.
        for (let i = row.n - 1; i >= 0; i--) {
          if (row.first + i < oldestKept) break scan;
          const start = i === 0 ? 0 : row.entries.lastIndexOf(NEWLINE, end - 1) + 1;
          const bytes = row.entries.subarray(start, end);
          end = start - 1;
          scanned++;
          const entry = JSON.parse(decoder.decode(bytes)) as LogEntry;
          const dash = entry.id.indexOf("-");
          const entryMs = Number(entry.id.slice(0, dash));
          const entrySeq = Number(entry.id.slice(dash + 1));
          if (!older(entryMs, entrySeq, ms, seq)) continue;
          if (matches(entry, query) && !page.offer(entry, bytes.length)) break scan;
        }
        if (bytesRead >= MAX_READ_BYTES) break;
      }
      if (!last || (read < PAGE && bytesRead < MAX_READ_BYTES)) break;
      from = { ms: last.ms, seq: last.seq };
      // The statement is done with (its iteration ended): the next step reads from `from`.
      await new Promise((resolve) => setImmediate(resolve));
      // Closed meanwhile (the server stopping): answer what was found.
      if (this.#closed) break;
    }
    return page.page();
  }

  tail(appId: string, signal: AbortSignal): AsyncIterable<LogEntry> {
    return this.#tail.subscribe(appId, signal);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#writer.close();
    this.#db.close();
  }

  /** Moves `#lastMs`-`#seq` on to the next entry's id. */
  #nextId(): void {
    const now = Date.now();
    if (now > this.#lastMs) {
      this.#lastMs = now;
      this.#seq = 0;
    } else this.#seq++;
  }
}

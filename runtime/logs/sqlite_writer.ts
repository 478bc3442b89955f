/**
 * The write side of the embedded LogStore: inserts batch rows of log entries and keeps each app
 * near its retention, trimming whole batches from the oldest end. A batch row holds one app's
 * entries of one flush (their JSON texts, one a line, UTF-8), so a busy server writes one row and
 * one index entry for many entries, not one each. `LogWriterCore` does the work on a connection
 * of its own; `startLogWriter` runs it on a worker thread for a file (the writes, which every
 * request causes, then cost the host's main thread nothing but a message), or inline for a
 * `:memory:` database, which no second connection can reach.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { inTransaction } from "../platform/sqlite.ts";
import { IdTable } from "../sandbox/id_table.ts";
import { MAX_READ_BYTES } from "./query.ts";

/**
 * One write: the entries of one flush, in the order they were written, ENTRY_FIELDS values each,
 * flat: the id (`ms`, `seq`), then the fields in LogEntry's order (an absent one undefined).
 * Primitives, not JSON: posting them costs the host's main thread about a third of what encoding
 * each entry's JSON there did, and the writer thread builds the rows.
 */
export type LogColumns = Array<string | number | null | undefined>;

/** Values per entry in LogColumns. */
const ENTRY_FIELDS = 15;

/** Most entries in one batch row. */
const MAX_BATCH_ENTRIES = 128;
/** Most characters of entries in one batch row (1 M, at most 3 MB of UTF-8): a reader holds one row at a time. */
const MAX_BATCH_CHARS = MAX_READ_BYTES;

/** One app's entries of one write, becoming one batch row. */
interface Batch {
  app: string;
  /** The id of its first entry. */
  ms: number;
  seq: number;
  lines: string[];
  chars: number;
  /** The time in the id of its last entry (where ids go on after a restart). */
  lastMs: number;
}

/** The stored JSON of the entry at `at` in `columns`: its id first, as the API shows it. */
function entryLine(columns: LogColumns, at: number): string {
  return JSON.stringify({
    id: `${columns[at]}-${columns[at + 1]}`,
    time: columns[at + 2],
    level: columns[at + 3],
    type: columns[at + 4],
    app_id: columns[at + 5],
    environment: columns[at + 6],
    deployment_id: columns[at + 7],
    function: columns[at + 8],
    request_id: columns[at + 9],
    message: columns[at + 10],
    method: columns[at + 11],
    path: columns[at + 12],
    status: columns[at + 13],
    duration_ms: columns[at + 14],
  });
}

/**
 * The batch rows of one write: per app, its entries in order, a new row past MAX_BATCH_ENTRIES
 * or MAX_BATCH_CHARS.
 */
function batchesOf(columns: LogColumns): Batch[] {
  const open = new Map<string, Batch>();
  const rows: Batch[] = [];
  for (let at = 0; at < columns.length; at += ENTRY_FIELDS) {
    const line = entryLine(columns, at);
    const app = columns[at + 5] as string;
    const ms = columns[at] as number;
    let batch = open.get(app);
    if (
      batch &&
      (batch.lines.length >= MAX_BATCH_ENTRIES || batch.chars + line.length > MAX_BATCH_CHARS)
    ) {
      rows.push(batch);
      batch = undefined;
    }
    if (!batch) {
      batch = { app, ms, seq: columns[at + 1] as number, lines: [], chars: 0, lastMs: ms };
      open.set(app, batch);
    }
    batch.lines.push(line);
    batch.lastMs = ms;
    batch.chars += line.length;
  }
  for (const batch of open.values()) rows.push(batch);
  return rows;
}

/** The number an app's next entry gets (`next`), from its newest batch row; no row: none. */
export const NEXT_NUMBER_SQL =
  "SELECT first + n AS next FROM log_batches WHERE app = ? ORDER BY ms DESC, seq DESC LIMIT 1";

/**
 * Creates the batch table when the file has none; a file of the one-row-per-entry table of
 * earlier versions has its rows moved into it (each a batch of one), keeping their ids.
 */
export function createLogTable(db: DatabaseSync): void {
  inTransaction(db, () => {
    // `first` numbers an app's entries from 0 in order: the retention is "the newest
    // maxPerApp numbers", which a reader checks without counting rows.
    db.exec(`
      CREATE TABLE IF NOT EXISTS log_batches (
        id INTEGER PRIMARY KEY, app TEXT NOT NULL, ms INTEGER NOT NULL, seq INTEGER NOT NULL,
        first INTEGER NOT NULL, n INTEGER NOT NULL, last_ms INTEGER NOT NULL,
        entries BLOB NOT NULL
      );
      CREATE INDEX IF NOT EXISTS log_batches_key ON log_batches (app, ms, seq, first, n);
    `);
    const old = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'logs'")
      .get();
    if (!old) return;
    db.exec(`
      INSERT INTO log_batches (app, ms, seq, first, n, last_ms, entries)
        SELECT app, ms, seq, ROW_NUMBER() OVER (PARTITION BY app ORDER BY ms, seq) - 1, 1, ms,
          CAST(entry AS BLOB)
        FROM logs;
      DROP TABLE logs;
    `);
  });
}

/** Writes batches on `db`, trimming each app once it is 10% over `maxPerApp` entries. */
export class LogWriterCore {
  readonly #db: DatabaseSync;
  readonly #maxPerApp: number;
  readonly #insert: StatementSync;
  readonly #next: StatementSync;
  readonly #oldest: StatementSync;
  readonly #trim: StatementSync;
  /** Per app: the number its next entry gets, and how many entries its rows hold. */
  readonly #apps = new Map<string, { next: number; held: number }>();
  readonly #encoder = new TextEncoder();

  constructor(db: DatabaseSync, maxPerApp: number) {
    this.#db = db;
    this.#maxPerApp = maxPerApp;
    this.#insert = db.prepare(
      `INSERT INTO log_batches (app, ms, seq, first, n, last_ms, entries)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#next = db.prepare(NEXT_NUMBER_SQL);
    this.#oldest = db.prepare(
      "SELECT first FROM log_batches WHERE app = ? ORDER BY ms ASC, seq ASC LIMIT 1",
    );
    // From the oldest end: a trim reads only the rows it deletes (and one more).
    this.#trim = db.prepare(
      `DELETE FROM log_batches WHERE app = ?1 AND (ms, seq) < (
         SELECT ms, seq FROM log_batches WHERE app = ?1 AND first + n > ?2
         ORDER BY ms ASC, seq ASC LIMIT 1)`,
    );
  }

  /** Writes one write's entries as batch rows, in one transaction. */
  write(columns: LogColumns): void {
    const rows = batchesOf(columns);
    try {
      this.#writeAll(rows);
    } catch (error) {
      // Rolled back: the numbers counted for it were not stored; read them again.
      this.#apps.clear();
      throw error;
    }
  }

  #writeAll(rows: Batch[]): void {
    inTransaction(this.#db, () => {
      for (const row of rows) {
        const n = row.lines.length;
        const counts = this.#counts(row.app);
        this.#insert.run(
          row.app,
          row.ms,
          row.seq,
          counts.next,
          n,
          row.lastMs,
          this.#encoder.encode(row.lines.join("\n")),
        );
        counts.next += n;
        counts.held += n;
        if (counts.held > this.#maxPerApp * 1.1) this.#trimOf(row.app, counts);
      }
    });
  }

  #counts(app: string): { next: number; held: number } {
    let counts = this.#apps.get(app);
    if (!counts) {
      const next = (this.#next.get(app) as { next: number } | undefined)?.next ?? 0;
      counts = { next, held: next - this.#oldestOf(app, next) };
      this.#apps.set(app, counts);
    }
    return counts;
  }

  /** Deletes the app's batches that hold only entries past the retention. */
  #trimOf(app: string, counts: { next: number; held: number }): void {
    this.#trim.run(app, counts.next - this.#maxPerApp);
    counts.held = counts.next - this.#oldestOf(app, counts.next);
  }

  /** The number of the app's oldest stored entry, or `none` when it has no rows. */
  #oldestOf(app: string, none: number): number {
    return (this.#oldest.get(app) as { first: number } | undefined)?.first ?? none;
  }
}

/** Where a store's entries go; `write` resolves once they are committed. */
export interface LogWriter {
  write(columns: LogColumns): Promise<void>;
  close(): Promise<void>;
}

/** Messages to the writer thread (sqlite_writer_thread.ts). */
export type ToWriter =
  | { t: "open"; path: string; maxPerApp: number }
  | { t: "write"; id: number; columns: LogColumns }
  | { t: "close"; id: number };
/** Messages from the writer thread: a batch (or the close) `id` is done, or failed. */
export type FromWriter = { id: number; error?: string };

/** A writer for the database at `path`: a worker thread for a file, inline for `:memory:`. */
export function startLogWriter(path: string, db: DatabaseSync, maxPerApp: number): LogWriter {
  if (path === ":memory:") {
    const core = new LogWriterCore(db, maxPerApp);
    return {
      write: (columns) => Promise.resolve(core.write(columns)),
      close: () => Promise.resolve(),
    };
  }
  const worker = new Worker(new URL("./sqlite_writer_thread.ts", import.meta.url), {
    type: "module",
  });
  // Writes waiting for the thread's answer: not a Map, whose tables would keep each batch's
  // entries alive into the old generation (see id_table.ts).
  const waiting = new IdTable<{ resolve(): void; reject(error: Error): void }>();
  worker.onmessage = ({ data }: MessageEvent<FromWriter>) => {
    const pending = waiting.get(data.id);
    waiting.delete(data.id);
    if (data.error === undefined) pending?.resolve();
    else pending?.reject(new Error(data.error));
  };
  const send = (message: ToWriter) => worker.postMessage(message);
  const ask = (make: (id: number) => ToWriter) =>
    new Promise<void>((resolve, reject) => {
      send(make(waiting.add({ resolve, reject })));
    });
  send({ t: "open", path, maxPerApp });
  return {
    write: (columns) => ask((id) => ({ t: "write", id, columns })),
    async close() {
      await ask((id) => ({ t: "close", id })).catch(() => {});
      worker.terminate();
    },
  };
}

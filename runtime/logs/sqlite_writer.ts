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

/**
 * One write: `[app, ms, seq, n, lines, lastMs]` per batch row, flat, where `ms` and `seq` are the
 * id of the batch's first entry, `n` its entry count, `lines` the entries' JSON joined by "\n"
 * and `lastMs` the time in the id of its last entry (where ids go on after a restart).
 */
export type LogBatches = Array<string | number>;

/** Fields of one batch in LogBatches. */
const FIELDS = 6;

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

  /** Writes one write's batches in one transaction. */
  write(batches: LogBatches): void {
    try {
      this.#writeAll(batches);
    } catch (error) {
      // Rolled back: the numbers counted for it were not stored; read them again.
      this.#apps.clear();
      throw error;
    }
  }

  #writeAll(batches: LogBatches): void {
    inTransaction(this.#db, () => {
      for (let at = 0; at < batches.length; at += FIELDS) {
        const app = batches[at] as string;
        const n = batches[at + 3] as number;
        const counts = this.#counts(app);
        this.#insert.run(
          app,
          batches[at + 1]!,
          batches[at + 2]!,
          counts.next,
          n,
          batches[at + 5]!,
          this.#encoder.encode(batches[at + 4] as string),
        );
        counts.next += n;
        counts.held += n;
        if (counts.held > this.#maxPerApp * 1.1) this.#trimOf(app, counts);
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

/** Where a store's batches go; `write` resolves once the batch is committed. */
export interface LogWriter {
  write(batches: LogBatches): Promise<void>;
  close(): Promise<void>;
}

/** Messages to the writer thread (sqlite_writer_thread.ts). */
export type ToWriter =
  | { t: "open"; path: string; maxPerApp: number }
  | { t: "write"; id: number; batches: LogBatches }
  | { t: "close"; id: number };
/** Messages from the writer thread: a batch (or the close) `id` is done, or failed. */
export type FromWriter = { id: number; error?: string };

/** A writer for the database at `path`: a worker thread for a file, inline for `:memory:`. */
export function startLogWriter(path: string, db: DatabaseSync, maxPerApp: number): LogWriter {
  if (path === ":memory:") {
    const core = new LogWriterCore(db, maxPerApp);
    return {
      write: (batches) => Promise.resolve(core.write(batches)),
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
    write: (batches) => ask((id) => ({ t: "write", id, batches })),
    async close() {
      await ask((id) => ({ t: "close", id })).catch(() => {});
      worker.terminate();
    },
  };
}

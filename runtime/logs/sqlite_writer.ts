/**
 * The write side of the embedded LogStore: inserts batches of log rows and keeps each app near
 * its retention, trimming from the oldest end. `LogWriterCore` does the work on a connection of
 * its own; `startLogWriter` runs it on a worker thread for a file (the writes, which every
 * request causes, then cost the host's main thread nothing but a message), or inline for a
 * `:memory:` database, which no second connection can reach.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { inTransaction } from "../platform/sqlite.ts";

/** Rows written by one statement when a batch is large enough. */
const INSERT_BATCH = 32;

/** One batch: `[app, ms, seq, entry JSON]` per row, flat. */
export type LogRows = Array<string | number>;

/** Creates the logs table when the file has none. */
export function createLogTable(db: DatabaseSync): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS logs (
      app TEXT NOT NULL, ms INTEGER NOT NULL, seq INTEGER NOT NULL, entry TEXT NOT NULL,
      PRIMARY KEY (app, ms, seq)
    ) WITHOUT ROWID;
  `);
}

/** Writes batches on `db`, trimming each app once it is 10% over `maxPerApp` entries. */
export class LogWriterCore {
  readonly #db: DatabaseSync;
  readonly #maxPerApp: number;
  readonly #insert: StatementSync;
  readonly #insertMany: StatementSync;
  readonly #count: StatementSync;
  readonly #trim: StatementSync;
  readonly #counts = new Map<string, number>();

  constructor(db: DatabaseSync, maxPerApp: number) {
    this.#db = db;
    this.#maxPerApp = maxPerApp;
    this.#insert = db.prepare("INSERT INTO logs (app, ms, seq, entry) VALUES (?, ?, ?, ?)");
    this.#insertMany = db.prepare(
      `INSERT INTO logs (app, ms, seq, entry) VALUES ${
        Array(INSERT_BATCH).fill("(?, ?, ?, ?)").join(", ")
      }`,
    );
    this.#count = db.prepare("SELECT COUNT(*) AS n FROM logs WHERE app = ?");
    // From the oldest end: a trim reads only the rows it deletes, not the whole retention.
    this.#trim = db.prepare(
      `DELETE FROM logs WHERE app = ?1 AND (ms, seq) <= (
         SELECT ms, seq FROM logs WHERE app = ?1 ORDER BY ms ASC, seq ASC LIMIT 1 OFFSET ?2)`,
    );
  }

  /** Writes one batch in one transaction. */
  write(rows: LogRows): void {
    inTransaction(this.#db, () => {
      // Many rows a statement: fewer calls into SQLite for a busy server's batches.
      let at = 0;
      for (; at + INSERT_BATCH * 4 <= rows.length; at += INSERT_BATCH * 4) {
        this.#insertMany.run(...rows.slice(at, at + INSERT_BATCH * 4));
      }
      for (; at < rows.length; at += 4) this.#insert.run(...rows.slice(at, at + 4));
      const added = new Map<string, number>();
      for (let i = 0; i < rows.length; i += 4) {
        const app = rows[i] as string;
        added.set(app, (added.get(app) ?? 0) + 1);
      }
      for (const [app, n] of added) this.#counted(app, n);
    });
  }

  /** Counts `n` new entries of an app (already written); trims its oldest past 110%. */
  #counted(appId: string, n: number): void {
    let count = this.#counts.get(appId);
    count = count === undefined ? (this.#count.get(appId) as { n: number }).n : count + n;
    if (count > this.#maxPerApp * 1.1) {
      this.#trim.run(appId, count - this.#maxPerApp - 1);
      count = this.#maxPerApp;
    }
    this.#counts.set(appId, count);
  }
}

/** Where a store's batches go; `write` resolves once the batch is committed. */
export interface LogWriter {
  write(rows: LogRows): Promise<void>;
  close(): Promise<void>;
}

/** Messages to the writer thread (sqlite_writer_thread.ts). */
export type ToWriter =
  | { t: "open"; path: string; maxPerApp: number }
  | { t: "write"; id: number; rows: LogRows }
  | { t: "close"; id: number };
/** Messages from the writer thread: a batch (or the close) `id` is done, or failed. */
export type FromWriter = { id: number; error?: string };

/** A writer for the database at `path`: a worker thread for a file, inline for `:memory:`. */
export function startLogWriter(path: string, db: DatabaseSync, maxPerApp: number): LogWriter {
  if (path === ":memory:") {
    const core = new LogWriterCore(db, maxPerApp);
    return {
      write: (rows) => Promise.resolve(core.write(rows)),
      close: () => Promise.resolve(),
    };
  }
  const worker = new Worker(new URL("./sqlite_writer_thread.ts", import.meta.url), {
    type: "module",
  });
  const waiting = new Map<number, { resolve(): void; reject(error: Error): void }>();
  let next = 0;
  worker.onmessage = ({ data }: MessageEvent<FromWriter>) => {
    const pending = waiting.get(data.id);
    waiting.delete(data.id);
    if (data.error === undefined) pending?.resolve();
    else pending?.reject(new Error(data.error));
  };
  const send = (message: ToWriter) => worker.postMessage(message);
  const ask = (make: (id: number) => ToWriter) =>
    new Promise<void>((resolve, reject) => {
      const id = ++next;
      waiting.set(id, { resolve, reject });
      send(make(id));
    });
  send({ t: "open", path, maxPerApp });
  return {
    write: (rows) => ask((id) => ({ t: "write", id, rows })),
    async close() {
      await ask((id) => ({ t: "close", id })).catch(() => {});
      worker.terminate();
    },
  };
}

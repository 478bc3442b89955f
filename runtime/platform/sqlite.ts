/** What the embedded SQLite stores (KV, logs) share. */
import { DatabaseSync, type StatementSync } from "node:sqlite";

/**
 * Opens (or creates) the database at `path` (`:memory:` for a throwaway one) in WAL mode with
 * `synchronous = NORMAL`: a commit does not wait on the disk, and a crash loses at most the last
 * commits, never the file.
 */
export function openDatabase(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
  return db;
}

/** Runs `work` in one transaction of `db`: committed if it returns, rolled back if it throws. */
export function inTransaction(db: DatabaseSync, work: () => void): void {
  db.exec("BEGIN");
  try {
    work();
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

/**
 * Group commit: writes of one turn of the event loop share one transaction, committed when the
 * turn's microtasks have run. Each `run` is still all-or-nothing (a savepoint of its own), and
 * reads on the same connection see every write at once; what a group commit changes is only that
 * a crash can lose the last turn's writes, which `synchronous = NORMAL` already allows. It saves
 * a BEGIN, a COMMIT and the WAL pages of each write: a busy server's KV writes touch the same
 * usage and index pages again and again. The commit comes before any reply about these writes
 * leaves the host (a KV call is answered in a later microtask): committing at the end of the
 * event-loop iteration instead (`setImmediate`) served the KV counter 15% faster, but a host
 * that crashed in between would lose writes a handler had been told were made.
 */
export class GroupCommit {
  readonly #db: DatabaseSync;
  #open = false;
  // Prepared once: exec() would compile each of these again at every write.
  readonly #begin: StatementSync;
  readonly #commit: StatementSync;
  readonly #savepoint: StatementSync;
  readonly #release: StatementSync;
  readonly #rollbackTo: StatementSync;
  readonly #onRollback: () => void;

  /** `onRollback` is told when a write was rolled back (a cache of what it wrote is stale). */
  constructor(db: DatabaseSync, onRollback: () => void = () => {}) {
    this.#db = db;
    this.#onRollback = onRollback;
    this.#begin = db.prepare("BEGIN");
    this.#commit = db.prepare("COMMIT");
    this.#savepoint = db.prepare("SAVEPOINT w");
    this.#release = db.prepare("RELEASE w");
    this.#rollbackTo = db.prepare("ROLLBACK TO w");
  }

  /** Runs `work` atomically inside this turn's transaction; rolled back alone if it throws. */
  run(work: () => void): void {
    if (!this.#open) {
      this.#begin.run();
      this.#open = true;
      queueMicrotask(() => this.flush());
    }
    this.#savepoint.run();
    try {
      work();
    } catch (error) {
      this.#onRollback();
      if (this.#db.isTransaction) {
        this.#rollbackTo.run();
        this.#release.run();
      } else {
        // SQLite rolled the whole transaction back itself (a full disk, an I/O error): the
        // turn's earlier writes are gone with it, and the next write begins anew.
        this.#open = false;
      }
      throw error;
    }
    this.#release.run();
  }

  /** Commits the open transaction, if any; call before closing the database. */
  flush(): void {
    if (!this.#open) return;
    this.#open = false;
    try {
      this.#commit.run();
    } catch (error) {
      // Called from a microtask, where a throw would end the process: the turn's writes are
      // lost (as with a crash before the commit), and what was cached of them is dropped.
      this.#onRollback();
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      console.error("an embedded store could not commit its last writes:", error);
    }
  }
}

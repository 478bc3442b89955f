/** What the embedded SQLite stores (KV, logs) share. */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { setImmediate } from "node:timers";

/**
 * Opens (or creates) the database at `path` (`:memory:` for a throwaway one) in WAL mode with
 * `synchronous = NORMAL`: a commit does not wait on the disk, and a crash loses at most the last
 * commits, never the file.
 *
 * `exclusive`: this connection is the file's only one, as long as it is open (another gets
 * "database is locked"). SQLite then keeps its locks and the WAL index in this process instead
 * of taking file locks around every statement: a point read outside a transaction cost two
 * `fcntl` and an `fstat` (5–7 µs here), and costs under 3 µs so.
 */
export function openDatabase(path: string, options: { exclusive?: boolean } = {}): DatabaseSync {
  const db = new DatabaseSync(path);
  // Set before WAL is entered, so that the WAL index is kept in heap memory.
  if (options.exclusive) db.exec("PRAGMA locking_mode = EXCLUSIVE;");
  try {
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
  } catch (error) {
    db.close();
    if (options.exclusive && /database is locked/.test((error as Error).message)) {
      throw new DatabaseInUseError(path);
    }
    throw error;
  }
  return db;
}

/** A database opened for one connection that another one (another server) holds already. */
export class DatabaseInUseError extends Error {
  constructor(readonly path: string) {
    super(
      `${path} is in use by another running server: an embedded store keeps its file for one ` +
        "server; stop the other one, or give this one a DATA_DIR of its own",
    );
    this.name = "DatabaseInUseError";
  }
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

/** What a group commit tells its user (a store that caches what it wrote). */
export interface GroupCommitHooks {
  /** Runs inside the transaction just before its COMMIT: write what was kept back (usage). */
  beforeCommit?(): void;
  /** The transaction was lost (rolled back whole): what was cached of its writes is stale. */
  onLost?(): void;
}

/**
 * Group commit: the writes of one iteration of the event loop share one transaction, committed
 * at its end (`setImmediate`: after the KV calls of every frame batch read in that iteration).
 * Reads on the same connection see every write at once. `run` answers a promise that settles
 * once the transaction is committed: a write is reported made only then, so a crash never loses
 * a write a handler was told of (WAL with `synchronous = NORMAL` keeps every commit through a
 * process crash), and a COMMIT that fails (a full disk) fails the writes it carried (a read on
 * the same connection may meanwhile have seen such a write, as with any group commit). It saves a
 * BEGIN, a COMMIT and the WAL pages of each write: a busy server's KV writes touch the same usage
 * and index pages again and again (one transaction per turn's microtasks served the KV counter
 * about 15% less).
 *
 * There is no savepoint per `run` (a SAVEPOINT and a RELEASE per write cost about as much as the
 * write): a `work` makes at most one write whose failure would leave it half done, as its last
 * statement (a statement that fails changes nothing), and keeps what it would write beside it
 * (a store's usage figures) for `beforeCommit`.
 */
export class GroupCommit {
  readonly #db: DatabaseSync;
  #open = false;
  // Prepared once: exec() would compile each of these again at every write.
  readonly #begin: StatementSync;
  readonly #commit: StatementSync;
  readonly #hooks: GroupCommitHooks;
  /** Settles once the open transaction is committed (or lost); its writes' callers wait on it. */
  #committed: PromiseWithResolvers<void> | null = null;

  constructor(db: DatabaseSync, hooks: GroupCommitHooks = {}) {
    this.#db = db;
    this.#hooks = hooks;
    this.#begin = db.prepare("BEGIN");
    this.#commit = db.prepare("COMMIT");
  }

  /**
   * Runs `work` inside this iteration's transaction (see the class for what `work` may do).
   * Answers a promise that resolves once the transaction is committed, and rejects if it is lost.
   */
  run(work: () => void): Promise<void> {
    if (!this.#open) {
      this.#begin.run();
      this.#open = true;
      this.#committed = Promise.withResolvers<void>();
      // Callers await it; nobody else need, and a lost commit must not end the process.
      this.#committed.promise.catch(() => {});
      setImmediate(() => this.flush());
    }
    const committed = this.#committed!.promise;
    try {
      work();
    } catch (error) {
      if (!this.#db.isTransaction) {
        // SQLite rolled the whole transaction back itself (a full disk, an I/O error): the
        // iteration's earlier writes are gone with it, and the next write begins anew.
        this.#open = false;
        this.#hooks.onLost?.();
        this.#lost(new Error(`the store lost this write: ${(error as Error).message}`));
      }
      throw error;
    }
    return committed;
  }

  /** Commits the open transaction, if any; call before closing the database. */
  flush(): void {
    if (!this.#open) return;
    this.#open = false;
    try {
      this.#hooks.beforeCommit?.();
      this.#commit.run();
      this.#committed?.resolve();
      this.#committed = null;
    } catch (error) {
      // Called from a timer, where a throw would end the process: the iteration's writes are
      // lost (their callers are told), and what was cached of them is dropped.
      try {
        if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      } catch { /* the connection is broken: the transaction is gone either way */ }
      this.#hooks.onLost?.();
      console.error("an embedded store could not commit its last writes:", error);
      this.#lost(new Error(`the store could not commit this write: ${(error as Error).message}`));
    }
  }

  /** Fails the callers of the open transaction's writes: it is gone. */
  #lost(error: Error): void {
    this.#committed?.reject(error);
    this.#committed = null;
  }
}

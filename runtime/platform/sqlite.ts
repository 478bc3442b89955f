/** What the embedded SQLite stores (KV, logs) share. */
import { DatabaseSync } from "node:sqlite";

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

/** What the embedded SQLite stores (KV, logs) share. */
import type { DatabaseSync } from "node:sqlite";

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

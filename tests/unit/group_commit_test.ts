/** The embedded stores' group commit (runtime/platform/sqlite.ts): a write is reported once committed. */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { GroupCommit } from "../../runtime/platform/sqlite.ts";

function database(): DatabaseSync {
  const db = new DatabaseSync(":memory:");
  db.exec(`
    PRAGMA foreign_keys = ON;
    CREATE TABLE parents (id INTEGER PRIMARY KEY);
    CREATE TABLE children (
      id INTEGER PRIMARY KEY,
      parent INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED
    );
  `);
  return db;
}

Deno.test("the writes of one iteration share a transaction, and each resolves once it is committed", async () => {
  const db = database();
  const writes = new GroupCommit(db);
  const first = writes.run(() => db.exec("INSERT INTO parents VALUES (1)"));
  const second = writes.run(() => db.exec("INSERT INTO parents VALUES (2)"));
  // Not committed yet: both are in one open transaction, which reads on it already see.
  assert.equal(db.isTransaction, true);
  assert.equal((db.prepare("SELECT COUNT(*) AS n FROM parents").get() as { n: number }).n, 2);
  await Promise.all([first, second]);
  assert.equal(db.isTransaction, false);
  db.close();
});

Deno.test("a write whose statement fails changes nothing, and the others of its iteration commit", async () => {
  const db = database();
  const writes = new GroupCommit(db);
  const kept = writes.run(() => db.exec("INSERT INTO parents VALUES (1)"));
  // A statement that fails is undone by SQLite alone; the transaction goes on.
  assert.throws(() => writes.run(() => db.exec("INSERT INTO parents VALUES (1)")), /UNIQUE/);
  assert.equal(db.isTransaction, true);
  await kept;
  assert.deepEqual(db.prepare("SELECT id FROM parents").all().map((row) => row.id), [1]);
  db.close();
});

Deno.test("what a store keeps back is written just before the COMMIT, once per transaction", async () => {
  const db = database();
  let pending = 0;
  let written = 0;
  const writes = new GroupCommit(db, {
    beforeCommit: () => {
      if (pending > 0) db.exec(`INSERT INTO parents VALUES (${100 + written++})`);
      pending = 0;
    },
  });
  await Promise.all([1, 2, 3].map((id) =>
    writes.run(() => {
      db.exec(`INSERT INTO parents VALUES (${id})`);
      pending++;
    })
  ));
  assert.equal(written, 1);
  assert.deepEqual(db.prepare("SELECT id FROM parents ORDER BY id").all().map((row) => row.id), [
    1,
    2,
    3,
    100,
  ]);
  db.close();
});

Deno.test("a COMMIT that fails fails every write it carried, and was rolled back", async () => {
  const db = database();
  let lost = 0;
  const writes = new GroupCommit(db, { onLost: () => lost++ });
  const parent = writes.run(() => db.exec("INSERT INTO parents VALUES (1)"));
  // A deferred foreign key is checked at COMMIT: this child makes the COMMIT itself fail.
  const orphan = writes.run(() => db.exec("INSERT INTO children VALUES (1, 99)"));
  const silenced = console.error;
  console.error = () => {};
  try {
    await assert.rejects(parent, /could not commit this write/);
    await assert.rejects(orphan, /could not commit this write/);
  } finally {
    console.error = silenced;
  }
  assert.equal(lost, 1);
  assert.equal(db.isTransaction, false);
  assert.equal((db.prepare("SELECT COUNT(*) AS n FROM parents").get() as { n: number }).n, 0);
  // The next write begins anew and commits.
  await writes.run(() => db.exec("INSERT INTO parents VALUES (3)"));
  assert.deepEqual(db.prepare("SELECT id FROM parents").all().map((row) => row.id), [3]);
  db.close();
});

/** The id table behind a sandbox's invocations and a handler's calls (runtime/sandbox/id_table.ts). */
import assert from "node:assert/strict";
import { IdTable } from "../../runtime/sandbox/id_table.ts";

Deno.test("an id table hands out 1, 2, 3, … and finds, counts and lets go of each value", () => {
  const table = new IdTable<string>();
  assert.deepEqual([table.add("a"), table.add("b"), table.add("c")], [1, 2, 3]);
  assert.equal(table.get(2), "b");
  assert.equal(table.size, 3);
  assert.equal(table.delete(2), true);
  assert.equal(table.delete(2), false);
  assert.equal(table.get(2), undefined);
  assert.equal(table.size, 2);
  // A deleted id is never handed out again.
  assert.equal(table.add("d"), 4);
  assert.deepEqual(table.ids(), [1, 3, 4]);
  assert.deepEqual(table.values(), ["a", "c", "d"]);
});

Deno.test("an id table answers nothing for ids a peer made up", () => {
  const table = new IdTable<string>();
  table.add("a");
  for (const junk of [0, -1, 1.5, NaN, Infinity, "1", null, undefined, {}, 2 ** 53]) {
    assert.equal(table.get(junk), undefined, String(junk));
    assert.equal(table.delete(junk), false, String(junk));
  }
  assert.equal(table.size, 1);
});

Deno.test("an entry held while a million short ones come and go is still found under its id", () => {
  const table = new IdTable<number>();
  const long = table.add(-1);
  for (let i = 0; i < 1_000_000; i++) table.delete(table.add(i));
  assert.equal(table.get(long), -1);
  assert.equal(table.size, 1);
  assert.deepEqual(table.ids(), [long]);
  assert.equal(table.delete(long), true);
  assert.equal(table.size, 0);
});

Deno.test("an id table keeps every entry as it grows past its ring, lapped ones included", () => {
  const table = new IdTable<number>();
  const held = new Map<number, number>();
  // Keep every seventh of 10,000 entries: the ring doubles, and some kept ids share a slot.
  for (let i = 0; i < 10_000; i++) {
    const id = table.add(i);
    if (i % 7 === 0) held.set(id, i);
    else table.delete(id);
  }
  assert.equal(table.size, held.size);
  for (const [id, value] of held) assert.equal(table.get(id), value);
  assert.deepEqual(table.ids(), [...held.keys()]);
  for (const id of held.keys()) assert.equal(table.delete(id), true);
  assert.equal(table.size, 0);
  assert.deepEqual(table.ids(), []);
});

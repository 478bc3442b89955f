/**
 * Values under increasing integer ids, for state that comes and goes with every request: a
 * sandbox's invocations on the host, a handler's calls in the sandbox.
 *
 * Why not a `Map`: one that keeps gaining and losing entries rebuilds its table every few dozen
 * of them, and V8 links each old table to the one that replaced it (for iterators still
 * walking it). Once a table has reached the old generation it keeps every later table, and the
 * values they held, alive through each young-generation collection until a full one. On the
 * host that kept about 12% of all a request allocated alive past two scavenges, which then
 * copied 3 MB each (pauses of 5–18 ms, the hello bench's p99) and filled the old generation.
 *
 * Here an id indexes a ring of slots (id modulo its size), so adding and deleting write array
 * slots only. The rare entry still held when its slot comes round again (a long stream among
 * many short requests) moves to an overflow map; the ring doubles while over half full.
 */

/** The ring's first size, in slots (a power of two). */
const FIRST_SLOTS = 16;

/** A table of values under ids it hands out: 1, 2, 3, … */
export class IdTable<T> {
  #ids: Float64Array;
  #values: Array<T | undefined>;
  /** Entries whose slot a newer id took while they were still held. */
  #overflow: Map<number, T> | null = null;
  #size = 0;
  #last = 0;

  constructor() {
    this.#ids = new Float64Array(FIRST_SLOTS);
    this.#values = new Array<T | undefined>(FIRST_SLOTS).fill(undefined);
  }

  /** How many values are held. */
  get size(): number {
    return this.#size;
  }

  /** Holds `value` under a new id, and answers the id (a positive integer, never reused). */
  add(value: T): number {
    if (this.#size * 2 >= this.#values.length) this.#grow();
    const id = ++this.#last;
    this.#place(id, value);
    this.#size++;
    return id;
  }

  /** The value held under `id` (any value: ids from a peer are checked here), or undefined. */
  get(id: unknown): T | undefined {
    if (typeof id !== "number") return undefined;
    const slot = id % this.#values.length;
    if (this.#ids[slot] === id) return this.#values[slot];
    return this.#overflow?.get(id);
  }

  /** Lets go of the value under `id`; answers whether one was held. */
  delete(id: unknown): boolean {
    if (typeof id !== "number") return false;
    const slot = id % this.#values.length;
    if (this.#ids[slot] === id && this.#values[slot] !== undefined) {
      this.#ids[slot] = 0;
      this.#values[slot] = undefined;
      this.#size--;
      return true;
    }
    if (this.#overflow?.delete(id)) {
      this.#size--;
      if (this.#overflow.size === 0) this.#overflow = null;
      return true;
    }
    return false;
  }

  /** The ids held now, oldest first within the ring (a copy: the table may change meanwhile). */
  ids(): number[] {
    const out: number[] = [];
    for (let slot = 0; slot < this.#values.length; slot++) {
      if (this.#values[slot] !== undefined) out.push(this.#ids[slot]!);
    }
    if (this.#overflow) out.push(...this.#overflow.keys());
    return out.sort((a, b) => a - b);
  }

  /** The values held now (a copy). */
  values(): T[] {
    return this.ids().map((id) => this.get(id)!);
  }

  /** Puts `value` in the slot of `id`, moving an entry still held there to the overflow. */
  #place(id: number, value: T): void {
    const slot = id % this.#values.length;
    const held = this.#values[slot];
    if (held !== undefined) (this.#overflow ??= new Map()).set(this.#ids[slot]!, held);
    this.#ids[slot] = id;
    this.#values[slot] = value;
  }

  /** Doubles the ring and places every entry again (overflow ones too, where their slot is free). */
  #grow(): void {
    const ids = this.#ids;
    const values = this.#values;
    const overflow = this.#overflow;
    this.#ids = new Float64Array(ids.length * 2);
    this.#values = new Array<T | undefined>(values.length * 2).fill(undefined);
    this.#overflow = null;
    for (let slot = 0; slot < values.length; slot++) {
      if (values[slot] !== undefined) this.#place(ids[slot]!, values[slot]!);
    }
    for (const [id, value] of overflow ?? []) this.#place(id, value);
  }
}

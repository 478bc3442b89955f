/**
 * A cache of values read from the platform's store that keeps serving the last good value when a
 * re-read fails: a change announced just before the store went down must not turn every request
 * of a served app into a 503 (the old value is what the instance served a moment ago).
 */

interface Entry<V> {
  /** The last value read, once a read has succeeded. */
  value?: { current: V };
  /** The read under way; requests share it. */
  reading: Promise<V> | undefined;
  /** The newest read started: an older one that ends later does not overwrite its value. */
  newest?: Promise<V>;
  /** A change was announced since `value` was read: the next request reads again. */
  stale: boolean;
}

/** Values by key, each read at most once at a time; a failed first read is not cached. */
export class ReadCache<K, V> {
  readonly #entries = new Map<K, Entry<V>>();
  readonly #read: (key: K) => Promise<V>;

  /** `read` loads a key's value from the store (it may throw when the store is unreachable). */
  constructor(read: (key: K) => Promise<V>) {
    this.#read = read;
  }

  /**
   * The key's value: cached, or read now (after `invalidate`, read again; if that read fails,
   * the last good value, so only a key never read successfully throws).
   */
  get(key: K): Promise<V> {
    let entry = this.#entries.get(key);
    if (!entry) this.#entries.set(key, entry = { stale: true, reading: undefined });
    if (entry.reading) return this.#orLast(entry, entry.reading);
    if (!entry.stale && entry.value) return Promise.resolve(entry.value.current);
    const found = entry;
    found.stale = false;
    const reading = this.#read(key);
    found.reading = reading;
    found.newest = reading;
    reading.then((value) => {
      if (found.newest === reading) found.value = { current: value };
    }, () => {
      // Read again next time; a key that never had a value is forgotten.
      found.stale = true;
      if (!found.value && this.#entries.get(key) === found) this.#entries.delete(key);
    }).finally(() => {
      if (found.reading === reading) found.reading = undefined;
    });
    return this.#orLast(found, reading);
  }

  /** Marks every key that `which` matches as changed: its next `get` reads it again. */
  invalidate(which: (key: K) => boolean): void {
    for (const [key, entry] of this.#entries) {
      if (!which(key)) continue;
      entry.stale = true;
      // A read that started before the change may return the old value: do not wait on it.
      entry.reading = undefined;
    }
  }

  #orLast(entry: Entry<V>, reading: Promise<V>): Promise<V> {
    return reading.catch((error) => {
      if (entry.value) return entry.value.current;
      throw error;
    });
  }
}

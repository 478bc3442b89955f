/**
 * A cache of values read from the platform's store that keeps serving the last good value while
 * the store is unreachable: a change announced just before the store went down must not turn
 * every request of a served app into a 503 (the old value is what the instance served a moment
 * ago). Only an outage falls back; any other failed read (a value that no longer opens or parses)
 * fails the request as it would uncached.
 */

interface Entry<V> {
  /** The last value read, once a read has succeeded. */
  value?: { current: V };
  /** The read under way; requests share it. */
  reading: Promise<V> | undefined;
  /** The newest read started: an older one that ends later does not overwrite its outcome. */
  newest?: Promise<V>;
  /** A change was announced since `value` was read: the next request reads again. */
  stale: boolean;
  /** After a read failed for an outage, no new read before this (performance.now() ms). */
  retryAt: number;
}

/** How a ReadCache reads and when it falls back. */
export interface ReadCacheOptions<K, V> {
  /** Loads a key's value from the store; may throw when the store is unreachable. */
  read(key: K): Promise<V>;
  /** Whether `error` means the store is unreachable: then the last good value is served. */
  isOutage(error: unknown): boolean;
  /** Called with each value that becomes the key's current one. */
  onValue?(key: K, value: V): void;
  /** After an outage, how long requests are served the last value before a read is tried again, in ms. */
  retryMs?: number;
}

/** Serves the last value meanwhile, so a store that does not answer costs one wait, not each request's. */
const RETRY_MS = 1000;

/** Values by key, each read at most once at a time; a failed first read is not cached. */
export class ReadCache<K, V> {
  readonly #entries = new Map<K, Entry<V>>();
  readonly #options: ReadCacheOptions<K, V>;

  constructor(options: ReadCacheOptions<K, V>) {
    this.#options = options;
  }

  /**
   * The key's value: cached, or read now (after `invalidate`, read again; if the store is
   * unreachable, the last good value, so only a key never read successfully throws then).
   */
  get(key: K): Promise<V> {
    let entry = this.#entries.get(key);
    if (!entry) this.#entries.set(key, entry = { stale: true, reading: undefined, retryAt: 0 });
    if (entry.reading) return this.#orLast(entry, entry.reading);
    if (entry.value && (!entry.stale || performance.now() < entry.retryAt)) {
      return Promise.resolve(entry.value.current);
    }
    const found = entry;
    found.stale = false;
    const reading = this.#options.read(key);
    found.reading = reading;
    found.newest = reading;
    reading.then((value) => {
      if (found.newest !== reading) return;
      found.value = { current: value };
      this.#options.onValue?.(key, value);
    }, (error) => {
      if (found.newest !== reading) return;
      // Read again next time (after a pause, for an outage); a key never read is forgotten.
      found.stale = true;
      if (this.#options.isOutage(error)) {
        found.retryAt = performance.now() + (this.#options.retryMs ?? RETRY_MS);
      }
      if (!found.value && this.#entries.get(key) === found) this.#entries.delete(key);
    }).finally(() => {
      if (found.reading === reading) found.reading = undefined;
    });
    return this.#orLast(found, reading);
  }

  /**
   * The key's value when one is cached and current (no read under way, no change announced
   * since), without waiting: the hot path then skips a promise and a turn; else undefined.
   */
  peek(key: K): { current: V } | undefined {
    const entry = this.#entries.get(key);
    return entry && !entry.reading && !entry.stale ? entry.value : undefined;
  }

  /** Marks every key that `which` matches as changed: its next `get` reads it again. */
  invalidate(which: (key: K) => boolean): void {
    for (const [key, entry] of this.#entries) {
      if (!which(key)) continue;
      entry.stale = true;
      entry.retryAt = 0;
      // A read that started before the change may return the old value: do not wait on it.
      entry.reading = undefined;
    }
  }

  #orLast(entry: Entry<V>, reading: Promise<V>): Promise<V> {
    return reading.catch((error) => {
      if (entry.value && this.#options.isOutage(error)) return entry.value.current;
      throw error;
    });
  }
}

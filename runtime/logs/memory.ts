/** The embedded LogStore: a bounded buffer per app in memory (oldest entries dropped first). */
import { compareIds, matches } from "./query.ts";
import type { LogEntry, LogPage, LogQuery, LogStore, NewLogEntry } from "./types.ts";

/** A LogStore in this process's memory, keeping at most `maxPerApp` entries per app. */
export class MemoryLogStore implements LogStore {
  readonly #maxPerApp: number;
  readonly #apps = new Map<string, LogEntry[]>();
  readonly #listeners = new Map<string, Set<(entry: LogEntry) => void>>();
  #lastMs = 0;
  #seq = 0;

  constructor(maxPerApp: number) {
    this.#maxPerApp = maxPerApp;
  }

  append(entries: NewLogEntry[]): Promise<void> {
    for (const fields of entries) {
      const entry = { id: this.#nextId(), ...fields };
      let list = this.#apps.get(entry.app_id);
      if (!list) this.#apps.set(entry.app_id, list = []);
      list.push(entry);
      // Trim in batches so appends stay O(1) amortised.
      if (list.length > this.#maxPerApp * 1.1) list.splice(0, list.length - this.#maxPerApp);
      this.#listeners.get(entry.app_id)?.forEach((listener) => listener(entry));
    }
    return Promise.resolve();
  }

  query(appId: string, query: LogQuery): Promise<LogPage> {
    const list = this.#apps.get(appId) ?? [];
    const oldest = Math.max(0, list.length - this.#maxPerApp);
    const entries: LogEntry[] = [];
    let more = false;
    for (let i = list.length - 1; i >= oldest; i--) {
      const entry = list[i];
      if (query.cursor && compareIds(entry.id, query.cursor) >= 0) continue;
      if (!matches(entry, query)) continue;
      if (entries.length === query.limit) {
        more = true;
        break;
      }
      entries.push(entry);
    }
    return Promise.resolve({ entries, next_cursor: more ? entries[entries.length - 1].id : null });
  }

  async *tail(appId: string, signal: AbortSignal): AsyncIterable<LogEntry> {
    const queue: LogEntry[] = [];
    let wake: (() => void) | null = null;
    const listener = (entry: LogEntry) => {
      queue.push(entry);
      wake?.();
    };
    const onAbort = () => wake?.();
    let listeners = this.#listeners.get(appId);
    if (!listeners) this.#listeners.set(appId, listeners = new Set());
    listeners.add(listener);
    signal.addEventListener("abort", onAbort);
    try {
      while (!signal.aborted) {
        if (queue.length === 0) await new Promise<void>((resolve) => wake = resolve);
        wake = null;
        while (queue.length > 0 && !signal.aborted) yield queue.shift()!;
      }
    } finally {
      listeners.delete(listener);
      if (listeners.size === 0) this.#listeners.delete(appId);
      signal.removeEventListener("abort", onAbort);
    }
  }

  #nextId(): string {
    const now = Date.now();
    if (now > this.#lastMs) {
      this.#lastMs = now;
      this.#seq = 0;
    } else this.#seq++;
    return `${this.#lastMs}-${this.#seq}`;
  }
}

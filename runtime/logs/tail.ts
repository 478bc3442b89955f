/**
 * Live-tail subscriptions of one process: entries appended here reach every subscriber of
 * their app. Each subscriber's queue is bounded in entries and in bytes; one that falls behind
 * (a stalled client) is ended with TailOverflowError instead of making the host hold entries
 * without bound.
 */
import type { LogEntry } from "./types.ts";

/** Most entries waiting for one live-tail subscriber before it is closed. */
export const MAX_TAIL_QUEUE = 10_000;
/**
 * Most bytes of entries waiting for one live-tail subscriber before it is closed (4 MB), counted
 * as each entry's message plus TAIL_ENTRY_OVERHEAD for its other fields.
 */
export const MAX_TAIL_QUEUE_BYTES = 4 * 1024 * 1024;
/** What an entry's fields other than its message are counted as, in bytes. */
const TAIL_ENTRY_OVERHEAD = 256;

/** A subscriber fell too far behind (MAX_TAIL_QUEUE entries or MAX_TAIL_QUEUE_BYTES) and was closed. */
export class TailOverflowError extends Error {
  constructor() {
    super(
      `the live tail fell behind by more than ${MAX_TAIL_QUEUE} entries or ` +
        `${MAX_TAIL_QUEUE_BYTES} bytes of entries and was closed; reconnect, or page through ` +
        "the rest with GET /logs",
    );
    this.name = "TailOverflowError";
  }
}

/** The subscribers of every app, fed by `publish`. */
export class TailHub {
  readonly #listeners = new Map<string, Set<(entry: LogEntry, bytes: number) => void>>();

  /** Whether `appId` has a subscriber: an entry of an app without one need not be built. */
  listening(appId: string): boolean {
    return this.#listeners.has(appId);
  }

  /** Hands an appended entry to its app's subscribers. */
  publish(entry: LogEntry): void {
    const listeners = this.#listeners.get(entry.app_id);
    if (!listeners) return;
    const bytes = entry.message.length + TAIL_ENTRY_OVERHEAD;
    listeners.forEach((listener) => listener(entry, bytes));
  }

  /** Entries of `appId` published from now on, oldest first, until `signal` aborts. */
  async *subscribe(appId: string, signal: AbortSignal): AsyncIterable<LogEntry> {
    const queue: Array<{ entry: LogEntry; bytes: number }> = [];
    let queued = 0;
    let overflowed = false;
    let wake: (() => void) | null = null;
    const listener = (entry: LogEntry, bytes: number) => {
      if (overflowed) return;
      if (queue.length >= MAX_TAIL_QUEUE || queued + bytes > MAX_TAIL_QUEUE_BYTES) {
        // What is queued still goes out, then the close; nothing more is taken.
        overflowed = true;
      } else {
        queue.push({ entry, bytes });
        queued += bytes;
      }
      wake?.();
    };
    const onAbort = () => wake?.();
    let listeners = this.#listeners.get(appId);
    if (!listeners) this.#listeners.set(appId, listeners = new Set());
    listeners.add(listener);
    signal.addEventListener("abort", onAbort);
    try {
      while (!signal.aborted) {
        if (queue.length === 0 && !overflowed) {
          await new Promise<void>((resolve) => wake = resolve);
        }
        wake = null;
        while (queue.length > 0 && !signal.aborted) {
          const next = queue.shift()!;
          queued -= next.bytes;
          yield next.entry;
        }
        if (overflowed) throw new TailOverflowError();
      }
    } finally {
      listeners.delete(listener);
      if (listeners.size === 0) this.#listeners.delete(appId);
      signal.removeEventListener("abort", onAbort);
    }
  }
}

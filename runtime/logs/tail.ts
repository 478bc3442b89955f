/**
 * Live-tail subscriptions of one process: entries appended here reach every subscriber of
 * their app. Each subscriber's queue is bounded; one that falls behind (a stalled client) is
 * ended with TailOverflowError instead of making the host hold entries without bound.
 */
import type { LogEntry } from "./types.ts";

/** Most entries waiting for one live-tail subscriber before it is closed. */
export const MAX_TAIL_QUEUE = 10_000;

/** A subscriber fell MAX_TAIL_QUEUE entries behind and was closed. */
export class TailOverflowError extends Error {
  constructor() {
    super(
      `the live tail fell ${MAX_TAIL_QUEUE} entries behind and was closed; reconnect, or ` +
        "page through the rest with GET /logs",
    );
    this.name = "TailOverflowError";
  }
}

/** The subscribers of every app, fed by `publish`. */
export class TailHub {
  readonly #listeners = new Map<string, Set<(entry: LogEntry) => void>>();

  /** Hands an appended entry to its app's subscribers. */
  publish(entry: LogEntry): void {
    this.#listeners.get(entry.app_id)?.forEach((listener) => listener(entry));
  }

  /** Entries of `appId` published from now on, oldest first, until `signal` aborts. */
  async *subscribe(appId: string, signal: AbortSignal): AsyncIterable<LogEntry> {
    const queue: LogEntry[] = [];
    let overflowed = false;
    let wake: (() => void) | null = null;
    const listener = (entry: LogEntry) => {
      if (queue.length >= MAX_TAIL_QUEUE) overflowed = true;
      else queue.push(entry);
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
        while (queue.length > 0 && !signal.aborted) yield queue.shift()!;
        if (overflowed) throw new TailOverflowError();
      }
    } finally {
      listeners.delete(listener);
      if (listeners.size === 0) this.#listeners.delete(appId);
      signal.removeEventListener("abort", onAbort);
    }
  }
}

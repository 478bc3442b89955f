/**
 * The shared LogStore: one Redis Stream per app (`logs:<appId>`), trimmed to about the
 * retention length, so every instance writes to and reads from one log. Stream ids are the
 * entry ids (`<ms>-<seq>`). The live tail polls the stream, so it sees every instance's entries.
 */
import type { Redis } from "@upstash/redis";
import { matches } from "./query.ts";
import type { LogEntry, LogPage, LogQuery, LogStore, NewLogEntry } from "./types.ts";

/** Stream entries read per round trip. */
const BATCH = 500;
/** How often the live tail polls for new entries, in ms. */
const POLL_MS = 250;

/** XRANGE as Redis answers it: `[id, [field, value, …]]` pairs (no client-side deserialisation). */
type StreamRange = Array<[string, string[]]>;

/** A LogStore on Redis Streams, keeping about `maxPerApp` entries per app. */
export class RedisLogStore implements LogStore {
  readonly #redis: Redis;
  readonly #maxPerApp: number;

  constructor(redis: Redis, maxPerApp: number) {
    this.#redis = redis;
    this.#maxPerApp = maxPerApp;
  }

  async append(entries: NewLogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.#redis.pipeline();
    for (const entry of entries) {
      pipeline.xadd(key(entry.app_id), "*", { e: JSON.stringify(entry) }, {
        trim: { type: "MAXLEN", threshold: this.#maxPerApp, comparison: "~" },
      });
    }
    await pipeline.exec();
  }

  async query(appId: string, query: LogQuery): Promise<LogPage> {
    const entries: LogEntry[] = [];
    let end = query.cursor ? `(${query.cursor}` : "+";
    let scanned = 0;
    // Bounded by the stream's length: it is trimmed to about maxPerApp entries.
    while (scanned <= this.#maxPerApp * 2) {
      const batch = toEntries(
        await this.#redis.xrevrange(key(appId), end, "-", BATCH) as unknown as StreamRange,
      );
      scanned += batch.length;
      for (const entry of batch) {
        if (!matches(entry, query)) continue;
        if (entries.length === query.limit) {
          return { entries, next_cursor: entries[entries.length - 1]!.id };
        }
        entries.push(entry);
      }
      if (batch.length < BATCH) break;
      end = `(${batch[batch.length - 1]!.id}`;
    }
    return { entries, next_cursor: null };
  }

  async *tail(appId: string, signal: AbortSignal): AsyncIterable<LogEntry> {
    const latest = toEntries(
      await this.#redis.xrevrange(key(appId), "+", "-", 1) as unknown as StreamRange,
    );
    let after = latest[0]?.id ?? "0-0";
    while (!signal.aborted) {
      const batch = toEntries(
        await this.#redis.xrange(key(appId), `(${after}`, "+", BATCH) as unknown as StreamRange,
      );
      for (const entry of batch) {
        if (signal.aborted) return;
        yield entry;
        after = entry.id;
      }
      if (batch.length < BATCH) await sleep(POLL_MS, signal);
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function key(appId: string): string {
  return `logs:${appId}`;
}

function toEntries(range: StreamRange): LogEntry[] {
  return (range ?? []).map(([id, fields]) => ({
    id,
    ...JSON.parse(fields[fields.indexOf("e") + 1]!) as NewLogEntry,
  }));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

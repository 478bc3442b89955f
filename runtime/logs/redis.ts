/**
 * The shared LogStore: one Redis Stream per app (`logs:<appId>`), trimmed to about the
 * retention length, so every instance writes to and reads from one log. Stream ids are the
 * entry ids (`<ms>-<seq>`). The live tail polls the stream, so it sees every instance's entries.
 */
import { evalCommand, type RedisClient } from "../platform/redis.ts";
import { matches, MAX_READ_BYTES, PageBuilder } from "./query.ts";
import type { LogEntry, LogPage, LogQuery, LogStore, NewLogEntry } from "./types.ts";

/** Stream entries read per round trip. */
const BATCH = 500;
/** How often the live tail polls for new entries, in ms. */
const POLL_MS = 250;

/** XRANGE as Redis answers it: `[id, [field, value, …]]` pairs (no client-side deserialisation). */
type StreamRange = Array<[string, string[]]>;

/**
 * KEYS: the stream. ARGV: `rev` or `fwd`, start, end, count, most bytes. Reads up to `count`
 * entries but answers only those that fit in `most bytes` (at least one), with how many it read,
 * so a step never brings more than about MAX_READ_BYTES to the host however large entries are.
 */
const BOUNDED_RANGE_LUA = `
local command = ARGV[1] == 'rev' and 'XREVRANGE' or 'XRANGE'
local rows = redis.call(command, KEYS[1], ARGV[2], ARGV[3], 'COUNT', tonumber(ARGV[4]))
local out = {}
local total = 0
for i, row in ipairs(rows) do
  local size = 0
  for _, part in ipairs(row[2]) do size = size + string.len(part) end
  if i > 1 and total + size > tonumber(ARGV[5]) then break end
  total = total + size
  out[i] = {row[1], row[2], size}
end
return {#rows, out}
`;

/** One bounded step: entries with their stored bytes, and whether the range went on past them. */
interface Step {
  entries: Array<{ entry: LogEntry; bytes: number }>;
  /** Whether entries were left in the range (a full count, or cut by bytes). */
  more: boolean;
}

/** A LogStore on Redis Streams, keeping about `maxPerApp` entries per app. */
export class RedisLogStore implements LogStore {
  readonly #redis: RedisClient;
  readonly #maxPerApp: number;

  constructor(redis: RedisClient, maxPerApp: number) {
    this.#redis = redis;
    this.#maxPerApp = maxPerApp;
  }

  async append(entries: NewLogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.#redis.pipeline(entries.map((entry) => [
      "XADD",
      key(entry.app_id),
      "MAXLEN",
      "~",
      this.#maxPerApp,
      "*",
      "e",
      JSON.stringify(entry),
    ]));
  }

  async query(appId: string, query: LogQuery): Promise<LogPage> {
    const page = new PageBuilder(query.limit);
    let end = query.cursor ? `(${query.cursor}` : "+";
    let scanned = 0;
    // Bounded by the stream's length: it is trimmed to about maxPerApp entries.
    while (scanned <= this.#maxPerApp * 2) {
      const step = await this.#range(appId, "rev", end, "-");
      scanned += step.entries.length;
      for (const { entry, bytes } of step.entries) {
        if (matches(entry, query) && !page.offer(entry, bytes)) return page.page();
      }
      if (!step.more) break;
      end = `(${step.entries[step.entries.length - 1]!.entry.id}`;
    }
    return page.page();
  }

  async *tail(appId: string, signal: AbortSignal): AsyncIterable<LogEntry> {
    const latest = toEntries(
      await this.#redis.send(["XREVRANGE", key(appId), "+", "-", "COUNT", 1]) as StreamRange,
    );
    let after = latest[0]?.id ?? "0-0";
    // Pulled one bounded step at a time: a reader that stops reading stops the reads.
    while (!signal.aborted) {
      const step = await this.#range(appId, "fwd", `(${after}`, "+");
      for (const { entry } of step.entries) {
        if (signal.aborted) return;
        yield entry;
        after = entry.id;
      }
      if (!step.more) await sleep(POLL_MS, signal);
    }
  }

  /** Up to BATCH entries of an app's stream between `start` and `end`, at most MAX_READ_BYTES. */
  async #range(appId: string, direction: "rev" | "fwd", start: string, end: string): Promise<Step> {
    const [read, rows] = await this.#redis.send(
      evalCommand(BOUNDED_RANGE_LUA, [key(appId)], [direction, start, end, BATCH, MAX_READ_BYTES]),
    ) as [number, Array<[string, string[], number]>];
    const entries = (rows ?? []).map(([id, fields, bytes]) => ({
      entry: { id, ...JSON.parse(fields[fields.indexOf("e") + 1]!) as NewLogEntry },
      bytes,
    }));
    return { entries, more: read === BATCH || entries.length < read };
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

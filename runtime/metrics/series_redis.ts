/**
 * The Redis SeriesStore: every instance adds its requests to one hash per app and minute
 * (`fn:series:<app>:<minute>`, fields `<series>|r`, `<series>|e`, `<series>|c` (4xx),
 * `<series>|<bucket>`), kept a day, so the figures of all instances merge. Requests are counted
 * in memory and written once a second in one pipeline, so a request never waits on Redis.
 */
import { pairs, type RedisArg, type RedisClient } from "../platform/redis.ts";
import {
  addTo,
  APP_SERIES,
  BOUNDS,
  emptyMinute,
  MAX_SERIES_PER_APP,
  type Minute,
  PageFolder,
  type SeriesPage,
  type SeriesQuery,
  type SeriesStore,
  WINDOW_MINUTES,
} from "./series.ts";

/** Minute hashes read per round trip of a query. */
const READ_MINUTES = 60;
/** How often buffered counts are written, in ms. */
const FLUSH_MS = 1000;

const key = (appId: string, minute: number) => `fn:series:${appId}:${minute}`;

/** Series shared through Redis. */
export class RedisSeries implements SeriesStore {
  readonly #redis: RedisClient;
  /** `app\0minute` → series name → figures not yet written. */
  #pending = new Map<string, Map<string, Minute>>();
  readonly #seen = new Map<string, Set<string>>();
  readonly #timer: ReturnType<typeof setInterval>;
  /** The write under way, if any: a query waits for it, so it sees every count recorded before it. */
  #writing: Promise<void> | null = null;
  /** The one write queued behind it, which takes every count pending when it starts. */
  #queued: Promise<void> | null = null;
  /** Every instance adds to the same hashes. */
  readonly shared = true;

  constructor(redis: RedisClient) {
    this.#redis = redis;
    this.#timer = setInterval(() => void this.#flush(), FLUSH_MS);
  }

  record(appId: string, file: string, status: number, durationMs: number): void {
    const minute = Math.floor(Date.now() / 60_000);
    const slot = `${appId}\0${minute}`;
    let figures = this.#pending.get(slot);
    if (!figures) this.#pending.set(slot, figures = new Map());
    let seen = this.#seen.get(appId);
    if (!seen) this.#seen.set(appId, seen = new Set());
    for (const name of [APP_SERIES, file]) {
      if (!seen.has(name)) {
        if (seen.size > MAX_SERIES_PER_APP) continue;
        seen.add(name);
      }
      let m = figures.get(name);
      if (!m) figures.set(name, m = emptyMinute());
      addTo(m, status, durationMs);
    }
  }

  async query(appId: string, query: SeriesQuery): Promise<SeriesPage> {
    await this.#flush();
    const folder = new PageFolder(query);
    // A chunk of minutes a round trip, folded at once: the host never holds a day of hashes.
    for (let start = folder.from; start <= folder.to; start += READ_MINUTES) {
      const stop = Math.min(folder.to, start + READ_MINUTES - 1);
      const commands: RedisArg[][] = [];
      for (let minute = start; minute <= stop; minute++) {
        commands.push(["HGETALL", key(appId, minute)]);
      }
      const hashes = (await this.#redis.pipeline(commands)).map(pairs);
      hashes.forEach((hash, i) => {
        const minutes = new Map<string, Minute>();
        for (const [field, raw] of Object.entries(hash)) {
          const bar = field.lastIndexOf("|");
          const [name, part] = [field.slice(0, bar), field.slice(bar + 1)];
          let m = minutes.get(name);
          if (!m) minutes.set(name, m = emptyMinute());
          const value = Number(raw);
          if (part === "r") m.requests = value;
          else if (part === "e") m.errors = value;
          else if (part === "c") m.clientErrors = value;
          else m.buckets[Number(part)] = value;
        }
        for (const [name, m] of minutes) folder.add(name, start + i, m);
      });
    }
    return folder.page();
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#flush();
  }

  /**
   * Writes what is pending after any write under way; resolves once both reached Redis (or
   * failed). At most one write waits behind the one under way, so a Redis that hangs holds a
   * query or a close for two client timeouts, not one per timer tick of the outage.
   */
  #flush(): Promise<void> {
    if (this.#queued) return this.#queued;
    if (!this.#writing) {
      const writing = this.#write().catch(() => {}).finally(() => {
        if (this.#writing === writing) this.#writing = null;
      });
      this.#writing = writing;
      return writing;
    }
    const queued = this.#writing.then(() => {
      this.#queued = null;
      return this.#flush();
    });
    this.#queued = queued;
    return queued;
  }

  async #write(): Promise<void> {
    if (this.#pending.size === 0) return;
    const pending = this.#pending;
    this.#pending = new Map();
    const commands: RedisArg[][] = [];
    for (const [slot, figures] of pending) {
      const [appId = "", minute] = slot.split("\0");
      const hash = key(appId, Number(minute));
      for (const [name, m] of figures) {
        commands.push(["HINCRBY", hash, `${name}|r`, m.requests]);
        if (m.errors > 0) commands.push(["HINCRBY", hash, `${name}|e`, m.errors]);
        if (m.clientErrors > 0) commands.push(["HINCRBY", hash, `${name}|c`, m.clientErrors]);
        m.buckets.forEach((count, i) => {
          if (count > 0 && i <= BOUNDS.length) {
            commands.push(["HINCRBY", hash, `${name}|${i}`, count]);
          }
        });
      }
      commands.push(["EXPIRE", hash, (WINDOW_MINUTES + 60) * 60]);
    }
    // Redis unreachable: these counts are lost; requests never wait for metrics.
    await this.#redis.pipeline(commands).catch(() => {});
  }
}

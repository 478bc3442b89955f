/**
 * The Redis SeriesStore: every instance adds its requests to one hash per app and minute
 * (`fn:series:<app>:<minute>`, fields `<series>|r`, `<series>|e`, `<series>|<bucket>`), kept a
 * day, so the figures of all instances merge. Requests are counted in memory and written once a
 * second in one pipeline, so a request never waits on Redis.
 */
import type { Redis } from "@upstash/redis";
import {
  addTo,
  APP_SERIES,
  BOUNDS,
  emptyMinute,
  MAX_SERIES_PER_APP,
  type Minute,
  minuteRange,
  point,
  type SeriesPage,
  type SeriesStore,
  WINDOW_MINUTES,
} from "./series.ts";

/** How often buffered counts are written, in ms. */
const FLUSH_MS = 1000;

const key = (appId: string, minute: number) => `fn:series:${appId}:${minute}`;

/** Series shared through Redis. */
export class RedisSeries implements SeriesStore {
  readonly #redis: Redis;
  /** `app\0minute` → series name → figures not yet written. */
  #pending = new Map<string, Map<string, Minute>>();
  readonly #seen = new Map<string, Set<string>>();
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(redis: Redis) {
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

  async query(appId: string, minutes: number): Promise<SeriesPage> {
    await this.#flush();
    const [from, to] = minuteRange(minutes);
    const pipeline = this.#redis.pipeline();
    for (let minute = from; minute <= to; minute++) pipeline.hgetall(key(appId, minute));
    const hashes = (await pipeline.exec()) as Array<Record<string, string | number> | null>;
    const series = new Map<string, Map<number, Minute>>();
    hashes.forEach((hash, i) => {
      for (const [field, raw] of Object.entries(hash ?? {})) {
        const bar = field.lastIndexOf("|");
        const [name, part] = [field.slice(0, bar), field.slice(bar + 1)];
        let minutesOf = series.get(name);
        if (!minutesOf) series.set(name, minutesOf = new Map());
        let m = minutesOf.get(from + i);
        if (!m) minutesOf.set(from + i, m = emptyMinute());
        const value = Number(raw);
        if (part === "r") m.requests = value;
        else if (part === "e") m.errors = value;
        else m.buckets[Number(part)] = value;
      }
    });
    const points = (name: string) => {
      const out = [];
      for (let minute = from; minute <= to; minute++) {
        out.push(point(minute, series.get(name)?.get(minute)));
      }
      return out;
    };
    const functions: SeriesPage["functions"] = {};
    for (const name of series.keys()) if (name !== APP_SERIES) functions[name] = points(name);
    return { app: points(APP_SERIES), functions };
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#pending.size === 0) return;
    const pending = this.#pending;
    this.#pending = new Map();
    const pipeline = this.#redis.pipeline();
    for (const [slot, figures] of pending) {
      const [appId = "", minute] = slot.split("\0");
      const hash = key(appId, Number(minute));
      for (const [name, m] of figures) {
        pipeline.hincrby(hash, `${name}|r`, m.requests);
        if (m.errors > 0) pipeline.hincrby(hash, `${name}|e`, m.errors);
        m.buckets.forEach((count, i) => {
          if (count > 0 && i <= BOUNDS.length) pipeline.hincrby(hash, `${name}|${i}`, count);
        });
      }
      pipeline.expire(hash, (WINDOW_MINUTES + 60) * 60);
    }
    // Redis unreachable: these counts are lost; requests never wait for metrics.
    await pipeline.exec().catch(() => {});
  }
}

/**
 * Per-minute request figures for the last day, per app and per function: counts, errors (5xx),
 * and a log-scale latency histogram per minute for p50 and p99. The seam (`SeriesStore`) has an
 * in-memory implementation (series_memory.ts) and a Redis one (series_redis.ts) whose minutes
 * every instance adds to, so figures merge across instances.
 */

/** Minutes kept. */
export const WINDOW_MINUTES = 24 * 60;
/** Functions tracked per app (beyond, their requests count only in the app's series). */
export const MAX_SERIES_PER_APP = 500;
/** Latency bucket upper bounds, in ms: 0.25 ms doubling to about 34 min. */
export const BOUNDS = Array.from({ length: 24 }, (_, i) => 0.25 * 2 ** i);
/** The name under which an app's own series is kept beside its functions'. */
export const APP_SERIES = "*";

/** One minute of one series. */
export interface Minute {
  requests: number;
  errors: number;
  /** Counts per latency bucket (BOUNDS, then one past the last). */
  buckets: number[];
}

/** One minute as the API shows it. */
export interface MinutePoint {
  /** ISO 8601 start of the minute. */
  minute: string;
  requests: number;
  errors: number;
  /** Approximate (bucket upper bound) latencies, in ms; null without requests. */
  p50_ms: number | null;
  p99_ms: number | null;
}

/** An app's minutes, and each function's. */
export interface SeriesPage {
  app: MinutePoint[];
  functions: Record<string, MinutePoint[]>;
}

/**
 * Where request figures are kept.
 *
 * @example
 * ```ts
 * const series: SeriesStore = new MemorySeries();
 * series.record("app-1", "api/x.ts", 200, 3.2);
 * await series.query("app-1", 60); // → { app: [60 minutes], functions: { "api/x.ts": [...] } }
 * ```
 */
export interface SeriesStore {
  /** Counts one request (a 5xx is an error); never waits. */
  record(appId: string, file: string, status: number, durationMs: number): void;
  /** The app's minutes over the last `minutes` (at most a day), and each function's. */
  query(appId: string, minutes: number): Promise<SeriesPage>;
  /** Writes what is buffered and stops. */
  close(): Promise<void>;
}

/** A new empty minute. */
export function emptyMinute(): Minute {
  return { requests: 0, errors: 0, buckets: new Array(BOUNDS.length + 1).fill(0) };
}

/** Adds one request to a minute. */
export function addTo(minute: Minute, status: number, durationMs: number): void {
  minute.requests++;
  if (status >= 500) minute.errors++;
  const index = BOUNDS.findIndex((bound) => durationMs <= bound);
  const bucket = index < 0 ? BOUNDS.length : index;
  minute.buckets[bucket] = (minute.buckets[bucket] ?? 0) + 1;
}

/** A minute as the API shows it. */
export function point(minute: number, m: Minute | undefined): MinutePoint {
  return {
    minute: new Date(minute * 60_000).toISOString(),
    requests: m?.requests ?? 0,
    errors: m?.errors ?? 0,
    p50_ms: m && m.requests > 0 ? quantile(m, 0.5) : null,
    p99_ms: m && m.requests > 0 ? quantile(m, 0.99) : null,
  };
}

function quantile(m: Minute, q: number): number {
  const rank = Math.ceil(q * m.requests);
  let seen = 0;
  for (const [i, count] of m.buckets.entries()) {
    seen += count;
    if (seen >= rank) return BOUNDS[i] ?? BOUNDS[BOUNDS.length - 1]! * 2;
  }
  return BOUNDS[BOUNDS.length - 1]! * 2;
}

/** The range of whole minutes ending now: [from, to]. */
export function minuteRange(minutes: number, now = Date.now()): [number, number] {
  const to = Math.floor(now / 60_000);
  return [to - Math.min(minutes, WINDOW_MINUTES) + 1, to];
}

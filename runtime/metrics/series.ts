/**
 * Per-minute request figures for the last day, per app and per function: counts, errors (5xx),
 * client errors (4xx), and a log-scale latency histogram per minute for p50 and p99. The seam (`SeriesStore`) has an
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
  /** Requests answered 5xx. */
  errors: number;
  /** Requests answered 4xx. */
  clientErrors: number;
  /** Counts per latency bucket (BOUNDS, then one past the last). */
  buckets: number[];
}

/** One minute as the API shows it. */
export interface MinutePoint {
  /** ISO 8601 start of the minute. */
  minute: string;
  requests: number;
  /** Requests answered 5xx. */
  errors: number;
  /** Requests answered 4xx (not errors of the function: a bad request, a path with no function). */
  client_errors: number;
  /** Approximate (bucket upper bound) latencies, in ms; null without requests. */
  p50_ms: number | null;
  p99_ms: number | null;
}

/** Most points one series of a response holds: `minutes / step` may not be more. */
export const MAX_POINTS_PER_SERIES = 240;
/** Points per series the default step aims at: `step` defaults to `ceil(minutes / 120)`. */
export const DEFAULT_POINTS_PER_SERIES = 120;
/** Most function series one response holds: the busiest of the window; the rest are counted. */
export const MAX_SERIES_PER_RESPONSE = 50;

/** What to read: the last `minutes` (at most a day), one point per `step` minutes. */
export interface SeriesQuery {
  minutes: number;
  step: number;
}

/** The step of a window when none is asked for: at most DEFAULT_POINTS_PER_SERIES points. */
export function defaultStep(minutes: number): number {
  return Math.ceil(minutes / DEFAULT_POINTS_PER_SERIES);
}

/**
 * An app's points, and those of its busiest functions with requests in the window (at most
 * MAX_SERIES_PER_RESPONSE; `functions_omitted` counts the others with requests).
 */
export interface SeriesPage {
  /** Minutes per point; each point starts at its `minute`. */
  step_minutes: number;
  app: MinutePoint[];
  functions: Record<string, MinutePoint[]>;
  functions_omitted: number;
}

/**
 * Where request figures are kept.
 *
 * @example
 * ```ts
 * const series: SeriesStore = new MemorySeries();
 * series.record("app-1", "api/x.ts", 200, 3.2);
 * await series.query("app-1", { minutes: 60, step: 1 });
 * // → { step_minutes: 1, app: [60 points], functions: { "api/x.ts": [...] }, functions_omitted: 0 }
 * ```
 */
export interface SeriesStore {
  /**
   * Whether every instance's requests count in the figures (Redis), or this instance's only
   * (memory).
   */
  readonly shared: boolean;
  /** Counts one request (a 5xx is an error, a 4xx a client error); never waits. */
  record(appId: string, file: string, status: number, durationMs: number): void;
  /** The app's points over the window, and its busiest functions' (see SeriesPage). */
  query(appId: string, query: SeriesQuery): Promise<SeriesPage>;
  /** Writes what is buffered and stops. */
  close(): Promise<void>;
}

/** A new empty minute. */
export function emptyMinute(): Minute {
  return { requests: 0, errors: 0, clientErrors: 0, buckets: new Array(BOUNDS.length + 1).fill(0) };
}

/** Adds one request to a minute. */
export function addTo(minute: Minute, status: number, durationMs: number): void {
  minute.requests++;
  if (status >= 500) minute.errors++;
  else if (status >= 400) minute.clientErrors++;
  const index = BOUNDS.findIndex((bound) => durationMs <= bound);
  const bucket = index < 0 ? BOUNDS.length : index;
  minute.buckets[bucket] = (minute.buckets[bucket] ?? 0) + 1;
}

/** Adds the figures of `from` to `into`. */
function merge(into: Minute, from: Minute): void {
  into.requests += from.requests;
  into.errors += from.errors;
  into.clientErrors += from.clientErrors;
  from.buckets.forEach((count, i) => into.buckets[i] = (into.buckets[i] ?? 0) + count);
}

/**
 * The minutes of one app's series folded into points of `step` minutes over [from, to]: call
 * `add` with each stored minute (any order, any number of times), then `page`.
 */
export class PageFolder {
  readonly #from: number;
  readonly #to: number;
  readonly #step: number;
  /** Series name → point index → figures. */
  readonly #series = new Map<string, Map<number, Minute>>();

  constructor(query: SeriesQuery, now = Date.now()) {
    [this.#from, this.#to] = minuteRange(query.minutes, now);
    this.#step = query.step;
  }

  /** The first minute of the window. */
  get from(): number {
    return this.#from;
  }

  /** The last minute of the window (the current one). */
  get to(): number {
    return this.#to;
  }

  /** Adds one stored minute of series `name`; minutes outside the window are ignored. */
  add(name: string, minute: number, m: Minute): void {
    if (minute < this.#from || minute > this.#to || m.requests === 0) return;
    let points = this.#series.get(name);
    if (!points) this.#series.set(name, points = new Map());
    const index = Math.floor((minute - this.#from) / this.#step);
    let into = points.get(index);
    if (!into) points.set(index, into = emptyMinute());
    merge(into, m);
  }

  /** The page: the app's points, and its busiest functions' that had requests. */
  page(): SeriesPage {
    const count = Math.ceil((this.#to - this.#from + 1) / this.#step);
    const points = (series: Map<number, Minute> | undefined) =>
      Array.from({ length: count }, (_, i) => point(this.#from + i * this.#step, series?.get(i)));
    const busy = [...this.#series].filter(([name]) => name !== APP_SERIES)
      .map(([name, series]) => {
        let requests = 0;
        for (const m of series.values()) requests += m.requests;
        return { name, series, requests };
      })
      .sort((a, b) => b.requests - a.requests || (a.name < b.name ? -1 : 1));
    const functions: SeriesPage["functions"] = {};
    for (const { name, series } of busy.slice(0, MAX_SERIES_PER_RESPONSE)) {
      functions[name] = points(series);
    }
    return {
      step_minutes: this.#step,
      app: points(this.#series.get(APP_SERIES)),
      functions,
      functions_omitted: Math.max(0, busy.length - MAX_SERIES_PER_RESPONSE),
    };
  }
}

/** A point as the API shows it: the figures of the minutes from `minute` on. */
export function point(minute: number, m: Minute | undefined): MinutePoint {
  return {
    minute: new Date(minute * 60_000).toISOString(),
    requests: m?.requests ?? 0,
    errors: m?.errors ?? 0,
    client_errors: m?.clientErrors ?? 0,
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

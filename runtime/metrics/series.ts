/**
 * Per-minute request figures for the last day, per app and per function, kept in memory: counts,
 * errors, and a log-scale latency histogram per minute for p50 and p99. Bounded: minutes older
 * than a day are dropped, and each app keeps at most MAX_SERIES_PER_APP functions.
 */

/** Minutes kept. */
export const WINDOW_MINUTES = 24 * 60;
/** Functions tracked per app (beyond, their requests count only in the app's series). */
export const MAX_SERIES_PER_APP = 500;
/** Latency bucket upper bounds, in ms: 0.25 ms doubling to about 34 min. */
const BOUNDS = Array.from({ length: 24 }, (_, i) => 0.25 * 2 ** i);

interface Minute {
  requests: number;
  errors: number;
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

/** A series of minutes. */
class Series {
  readonly #minutes = new Map<number, Minute>();

  add(minute: number, durationMs: number, error: boolean): void {
    let m = this.#minutes.get(minute);
    if (!m) {
      m = { requests: 0, errors: 0, buckets: new Array(BOUNDS.length + 1).fill(0) };
      this.#minutes.set(minute, m);
      for (const old of this.#minutes.keys()) {
        if (old <= minute - WINDOW_MINUTES) this.#minutes.delete(old);
      }
    }
    m.requests++;
    if (error) m.errors++;
    const index = BOUNDS.findIndex((bound) => durationMs <= bound);
    m.buckets[index < 0 ? BOUNDS.length : index]++;
  }

  points(from: number, to: number): MinutePoint[] {
    const out: MinutePoint[] = [];
    for (let minute = from; minute <= to; minute++) {
      const m = this.#minutes.get(minute);
      out.push({
        minute: new Date(minute * 60_000).toISOString(),
        requests: m?.requests ?? 0,
        errors: m?.errors ?? 0,
        p50_ms: m ? quantile(m, 0.5) : null,
        p99_ms: m ? quantile(m, 0.99) : null,
      });
    }
    return out;
  }
}

function quantile(m: Minute, q: number): number {
  const rank = Math.ceil(q * m.requests);
  let seen = 0;
  for (const [i, count] of m.buckets.entries()) {
    seen += count;
    if (seen >= rank) return BOUNDS[i] ?? BOUNDS[BOUNDS.length - 1] * 2;
  }
  return BOUNDS[BOUNDS.length - 1] * 2;
}

/** Every app's series, and each of its functions'. */
export class RequestSeries {
  readonly #apps = new Map<string, { all: Series; functions: Map<string, Series> }>();

  /** Counts one request (a 5xx is an error). */
  record(appId: string, file: string, status: number, durationMs: number, at = Date.now()): void {
    const minute = Math.floor(at / 60_000);
    let app = this.#apps.get(appId);
    if (!app) this.#apps.set(appId, app = { all: new Series(), functions: new Map() });
    const error = status >= 500;
    app.all.add(minute, durationMs, error);
    let series = app.functions.get(file);
    if (!series && app.functions.size < MAX_SERIES_PER_APP) {
      app.functions.set(file, series = new Series());
    }
    series?.add(minute, durationMs, error);
  }

  /** The app's minutes over the last `minutes` (at most a day), and each function's. */
  query(
    appId: string,
    minutes: number,
    now = Date.now(),
  ): { app: MinutePoint[]; functions: Record<string, MinutePoint[]> } {
    const to = Math.floor(now / 60_000);
    const from = to - Math.min(minutes, WINDOW_MINUTES) + 1;
    const app = this.#apps.get(appId);
    const functions: Record<string, MinutePoint[]> = {};
    for (const [file, series] of app?.functions ?? []) functions[file] = series.points(from, to);
    return { app: (app?.all ?? new Series()).points(from, to), functions };
  }
}

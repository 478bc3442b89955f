/** The embedded SeriesStore: each app's minutes in this process's memory, a day at most. */
import {
  addTo,
  APP_SERIES,
  emptyMinute,
  MAX_SERIES_PER_APP,
  type Minute,
  minuteRange,
  point,
  type SeriesPage,
  type SeriesStore,
  WINDOW_MINUTES,
} from "./series.ts";

/** Series in memory: app → series name → minute → figures. */
export class MemorySeries implements SeriesStore {
  readonly #apps = new Map<string, Map<string, Map<number, Minute>>>();

  record(appId: string, file: string, status: number, durationMs: number): void {
    const minute = Math.floor(Date.now() / 60_000);
    let app = this.#apps.get(appId);
    if (!app) this.#apps.set(appId, app = new Map());
    for (const name of [APP_SERIES, file]) {
      let series = app.get(name);
      if (!series) {
        if (app.size > MAX_SERIES_PER_APP) continue;
        app.set(name, series = new Map());
      }
      let m = series.get(minute);
      if (!m) {
        series.set(minute, m = emptyMinute());
        for (const old of series.keys()) if (old <= minute - WINDOW_MINUTES) series.delete(old);
      }
      addTo(m, status, durationMs);
    }
  }

  query(appId: string, minutes: number): Promise<SeriesPage> {
    const [from, to] = minuteRange(minutes);
    const app = this.#apps.get(appId) ?? new Map<string, Map<number, Minute>>();
    const points = (series: Map<number, Minute> | undefined) => {
      const out = [];
      for (let minute = from; minute <= to; minute++) out.push(point(minute, series?.get(minute)));
      return out;
    };
    const functions: SeriesPage["functions"] = {};
    for (const [name, series] of app) if (name !== APP_SERIES) functions[name] = points(series);
    return Promise.resolve({ app: points(app.get(APP_SERIES)), functions });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

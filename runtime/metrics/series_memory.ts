/** The embedded SeriesStore: each app's minutes in this process's memory, a day at most. */
import {
  addTo,
  APP_SERIES,
  emptyMinute,
  MAX_SERIES_PER_APP,
  type Minute,
  PageFolder,
  type SeriesPage,
  type SeriesQuery,
  type SeriesStore,
  WINDOW_MINUTES,
} from "./series.ts";

/** Series in memory: app → series name → minute → figures. */
export class MemorySeries implements SeriesStore {
  readonly #apps = new Map<string, Map<string, Map<number, Minute>>>();
  /** Each instance keeps its own. */
  readonly shared = false;

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

  query(appId: string, query: SeriesQuery): Promise<SeriesPage> {
    const folder = new PageFolder(query);
    for (const [name, series] of this.#apps.get(appId) ?? []) {
      for (const [minute, m] of series) folder.add(name, minute, m);
    }
    return Promise.resolve(folder.page());
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

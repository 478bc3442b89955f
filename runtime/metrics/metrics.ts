/**
 * The platform's metrics: Prometheus counters and histograms (prom-client from npm) for
 * requests by app, environment, function and status class, their latency, sandbox starts and
 * stops, KV operations, log drops and rate-limited requests; and the per-minute series the
 * Studio's charts read (runtime/metrics/series.ts).
 */
import client from "prom-client";
import type { SupervisorStats } from "../sandbox/host/supervisor.ts";
import type { SeriesStore } from "./series.ts";
import { CellCounter, CellHistogram, type CounterCell, type HistogramCell } from "./cells.ts";

/**
 * Distinct `function` labels kept per app in the request counter and histogram; the requests of
 * further functions are counted under `function="other"`, so one app's routes cannot grow the
 * exposition without bound.
 */
export const MAX_FUNCTION_LABELS_PER_APP = 50;
/** The `function` label of an app's requests past MAX_FUNCTION_LABELS_PER_APP. */
export const OTHER_FUNCTION = "other";

/** Latency buckets of the request histogram, in seconds. */
const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** A request series' labels. */
type RequestLabels = { app: string; environment: string; function: string };

/** The cells one app, environment and function counts its requests in. */
interface RequestCells {
  labels: RequestLabels;
  /** By status class: 1xx to 5xx at 0 to 4, made at the first request of each. */
  byClass: Array<CounterCell | undefined>;
  duration: HistogramCell;
}

/** What the host counts; `text()` is the Prometheus exposition. */
export class Metrics {
  readonly #registry = new client.Registry();
  readonly #requests;
  readonly #duration;
  readonly #kv;
  readonly #logDrops;
  readonly #limited;
  /** Per-minute figures per app and function, for charts. */
  readonly series: SeriesStore;
  /** By app, environment and function label. */
  readonly #requestCells = new Map<string, RequestCells>();
  /** App → the function labels it has used, at most MAX_FUNCTION_LABELS_PER_APP. */
  readonly #functionLabels = new Map<string, Set<string>>();

  /** `sandboxes` reads the supervisor's counters at each scrape; `series` keeps the minutes. */
  constructor(sandboxes: () => SupervisorStats, series: SeriesStore) {
    this.series = series;
    const registers = [this.#registry];
    this.#requests = new CellCounter<RequestLabels & { status: string }>(
      this.#registry,
      "fn_requests_total",
      "Function requests, by app, environment, function and status class",
    );
    this.#duration = new CellHistogram<RequestLabels>(
      this.#registry,
      "fn_request_duration_seconds",
      "Function request latency, from arrival to the response",
      LATENCY_BUCKETS,
    );
    this.#kv = new CellCounter<{ app: string; op: string }>(
      this.#registry,
      "fn_kv_operations_total",
      "KV calls made by functions, by app and operation",
    );
    this.#logDrops = new client.Counter({
      name: "fn_log_entries_dropped_total",
      help: "Runtime log entries dropped past the per-request bounds, by app",
      labelNames: ["app"] as const,
      registers,
    });
    this.#limited = new client.Counter({
      name: "fn_rate_limited_total",
      help: "Requests refused by a rate limit (429), by app",
      labelNames: ["app"] as const,
      registers,
    });
    new client.Gauge({
      name: "fn_sandboxes",
      help: "Sandbox processes, by state (live: serving a deployment; spare: started ahead)",
      labelNames: ["state"] as const,
      registers,
      collect() {
        const stats = sandboxes();
        this.set({ state: "live" }, stats.live);
        this.set({ state: "spare" }, stats.spares);
      },
    });
    new client.Gauge({
      name: "fn_sandbox_cold_starts",
      help: "Deployments started in a sandbox process since the server started",
      registers,
      collect() {
        this.set(sandboxes().coldStarts);
      },
    });
    new client.Gauge({
      name: "fn_sandbox_stops",
      help: "Sandbox processes ended since the server started, by reason " +
        "(timeout, memory, idle-cpu, evicted, idle, retired, heap, crashed, …)",
      labelNames: ["reason"] as const,
      registers,
      collect() {
        for (const [reason, count] of Object.entries(sandboxes().stops)) {
          this.set({ reason }, count);
        }
      },
    });
  }

  /** Counts one function request. */
  request(labels: RequestLabels, status: number, durationMs: number): void {
    const file = labels.function;
    const key = `${labels.app}\0${labels.environment}\0${file}`;
    let cells = this.#requestCells.get(key);
    if (!cells) {
      const series = { ...labels, function: this.#functionLabel(labels.app, file) };
      // Functions past the app's label limit share the cells of OTHER_FUNCTION.
      const seriesKey = `${series.app}\0${series.environment}\0${series.function}`;
      cells = this.#requestCells.get(seriesKey) ?? {
        labels: series,
        byClass: [],
        duration: this.#duration.cell(seriesKey, () => series),
      };
      // Kept under its label only: a function past the app's label limit is looked up again
      // each time (through OTHER_FUNCTION's key), so the map stays as bounded as the labels.
      this.#requestCells.set(seriesKey, cells);
    }
    const index = Math.min(4, Math.max(0, Math.floor(status / 100) - 1));
    let counter = cells.byClass[index];
    if (!counter) {
      const { labels: series } = cells;
      const status = `${index + 1}xx`;
      counter = cells.byClass[index] = this.#requests.cell(
        `${series.app}\0${series.environment}\0${series.function}\0${status}`,
        () => ({ ...series, status }),
      );
    }
    counter.value++;
    this.#duration.observe(cells.duration, durationMs / 1000);
    if (status === 429) this.#limited.inc({ app: labels.app });
    this.series.record(labels.app, file, status, durationMs);
  }

  /** The label of `file` among its app's: itself while the app has room, else OTHER_FUNCTION. */
  #functionLabel(app: string, file: string): string {
    let used = this.#functionLabels.get(app);
    if (!used) this.#functionLabels.set(app, used = new Set());
    if (used.has(file)) return file;
    if (used.size >= MAX_FUNCTION_LABELS_PER_APP) return OTHER_FUNCTION;
    used.add(file);
    return file;
  }

  /** Counts one KV call. */
  kv(app: string, op: string): void {
    this.#kv.cell(`${app}\0${op}`, () => ({ app, op })).value++;
  }

  /** Counts dropped log entries. */
  logDrops(app: string, entries: number): void {
    if (entries > 0) this.#logDrops.inc({ app }, entries);
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.#registry.metrics();
  }

  /** The exposition's content type. */
  get contentType(): string {
    return this.#registry.contentType;
  }
}

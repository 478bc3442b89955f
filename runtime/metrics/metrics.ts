/**
 * The platform's metrics: Prometheus counters and histograms (prom-client from npm) for
 * requests by app, environment, function and status class, their latency, sandbox starts and
 * stops, KV operations, log drops and rate-limited requests; and the per-minute series the
 * Studio's charts read (runtime/metrics/series.ts).
 */
import client from "prom-client";
import type { SupervisorStats } from "../sandbox/host/supervisor.ts";
import type { SeriesStore } from "./series.ts";

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
  readonly #requestChildren = new Map<string, { inc(): void }>();
  readonly #durationChildren = new Map<string, { observe(value: number): void }>();
  /** App → the function labels it has used, at most MAX_FUNCTION_LABELS_PER_APP. */
  readonly #functionLabels = new Map<string, Set<string>>();

  /** `sandboxes` reads the supervisor's counters at each scrape; `series` keeps the minutes. */
  constructor(sandboxes: () => SupervisorStats, series: SeriesStore) {
    this.series = series;
    const registers = [this.#registry];
    this.#requests = new client.Counter({
      name: "fn_requests_total",
      help: "Function requests, by app, environment, function and status class",
      labelNames: ["app", "environment", "function", "status"] as const,
      registers,
    });
    this.#duration = new client.Histogram({
      name: "fn_request_duration_seconds",
      help: "Function request latency, from arrival to the response",
      labelNames: ["app", "environment", "function"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#kv = new client.Counter({
      name: "fn_kv_operations_total",
      help: "KV calls made by functions, by app and operation",
      labelNames: ["app", "op"] as const,
      registers,
    });
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
  request(
    labels: { app: string; environment: string; function: string },
    status: number,
    durationMs: number,
  ): void {
    const statusClass = `${Math.floor(status / 100)}xx`;
    const file = labels.function;
    labels = { ...labels, function: this.#functionLabel(labels.app, file) };
    const series = `${labels.app}\0${labels.environment}\0${labels.function}`;
    // prom-client hashes a label object on every call; a child per label set does it once.
    let counter = this.#requestChildren.get(`${series}\0${statusClass}`);
    if (!counter) {
      counter = this.#requests.labels({ ...labels, status: statusClass });
      this.#requestChildren.set(`${series}\0${statusClass}`, counter);
    }
    counter.inc();
    let histogram = this.#durationChildren.get(series);
    if (!histogram) {
      histogram = this.#duration.labels(labels);
      this.#durationChildren.set(series, histogram);
    }
    histogram.observe(durationMs / 1000);
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
    this.#kv.inc({ app, op });
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

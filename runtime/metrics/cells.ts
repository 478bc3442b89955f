/**
 * Counters and histograms for the request path, rendered by prom-client's registry: each label
 * set is a plain cell, found by a key the caller already has and incremented in place. prom-client's
 * own metrics check and hash the label object on every call, children included (about 1 µs each
 * on the request path); these do that once per label set.
 */
import type client from "prom-client";

/** One value of an exposition, as prom-client's registry formats it. */
interface ExposedValue {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
  metricName?: string;
}

/** What prom-client's registry reads of a metric (the shape of its own metrics' `get()`). */
interface Exposed {
  name: string;
  help: string;
  type: "counter" | "histogram";
  values: ExposedValue[];
  aggregator: "sum";
}

/** Registers `metric` with `registry`, which reads it through `get()` at each scrape. */
function register(
  registry: client.Registry,
  name: string,
  help: string,
  type: Exposed["type"],
  values: () => ExposedValue[],
): void {
  const metric = {
    name,
    help,
    type,
    aggregator: "sum" as const,
    get: (): Promise<Exposed> =>
      Promise.resolve({ name, help, type, values: values(), aggregator: "sum" }),
    reset() {},
  };
  // The registry calls only what a metric of its own has for the text exposition: name, type
  // and get() (prom-client's Registry.getMetricsAsString); its type names its four classes.
  registry.registerMetric(metric as unknown as client.Metric);
}

/** A counter cell: add to `value`. */
export interface CounterCell {
  value: number;
}

/** A counter by label set. */
export class CellCounter<L extends Record<string, string>> {
  readonly #cells = new Map<string, { labels: L; cell: CounterCell }>();

  constructor(registry: client.Registry, name: string, help: string) {
    register(
      registry,
      name,
      help,
      "counter",
      () => [...this.#cells.values()].map(({ labels, cell }) => ({ labels, value: cell.value })),
    );
  }

  /** The cell of the label set `key` names; `labels` is called when it is new. */
  cell(key: string, labels: () => L): CounterCell {
    let entry = this.#cells.get(key);
    if (!entry) this.#cells.set(key, entry = { labels: labels(), cell: { value: 0 } });
    return entry.cell;
  }
}

/** A histogram cell: observations per bucket (not cumulative; the last past every bound). */
export interface HistogramCell {
  buckets: number[];
  sum: number;
  count: number;
}

/** A histogram by label set, with fixed upper bounds. */
export class CellHistogram<L extends Record<string, string>> {
  readonly #cells = new Map<string, { labels: L; cell: HistogramCell }>();
  readonly #bounds: readonly number[];

  constructor(registry: client.Registry, name: string, help: string, bounds: readonly number[]) {
    this.#bounds = bounds;
    register(registry, name, help, "histogram", () => {
      const values: ExposedValue[] = [];
      for (const { labels, cell } of this.#cells.values()) {
        let total = 0;
        bounds.forEach((le, i) => {
          total += cell.buckets[i]!;
          values.push({
            labels: { le },
            sharedLabels: labels,
            value: total,
            metricName: `${name}_bucket`,
          });
        });
        values.push(
          {
            labels: { le: "+Inf" },
            sharedLabels: labels,
            value: cell.count,
            metricName: `${name}_bucket`,
          },
          { labels: {}, sharedLabels: labels, value: cell.sum, metricName: `${name}_sum` },
          { labels: {}, sharedLabels: labels, value: cell.count, metricName: `${name}_count` },
        );
      }
      return values;
    });
  }

  /** The cell of the label set `key` names; `labels` is called when it is new. */
  cell(key: string, labels: () => L): HistogramCell {
    let entry = this.#cells.get(key);
    if (!entry) {
      const cell = {
        buckets: new Array<number>(this.#bounds.length + 1).fill(0),
        sum: 0,
        count: 0,
      };
      this.#cells.set(key, entry = { labels: labels(), cell });
    }
    return entry.cell;
  }

  /** Counts `value` in `cell`. */
  observe(cell: HistogramCell, value: number): void {
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    cell.buckets[i]!++;
    cell.sum += value;
    cell.count++;
  }
}

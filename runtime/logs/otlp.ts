/**
 * Exports runtime log entries as OTLP logs over HTTP with the OpenTelemetry JS SDK, batched.
 * A collector that is down or slow never blocks invocations: past `maxQueue` entries waiting,
 * new ones are dropped and counted, and that is reported once on the server's stderr.
 */
import { SeverityNumber } from "@opentelemetry/api";
import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchLogRecordProcessor,
  LoggerProvider,
  type LogRecordExporter,
  type ReadableLogRecord,
} from "@opentelemetry/sdk-logs";
import type { LogLevel } from "../sandbox/protocol.ts";
import type { LogExporter } from "./logs.ts";
import type { NewLogEntry } from "./types.ts";

/** Settings of the OTLP export. */
export interface OtlpOptions {
  /** The logs endpoint, e.g. `http://collector:4318/v1/logs`. */
  url: string;
  /** Extra HTTP headers (OTEL_EXPORTER_OTLP_HEADERS). */
  headers?: Record<string, string> | undefined;
  serviceName: string;
  /** Most entries waiting for export before new ones are dropped (default 2048). */
  maxQueue?: number;
  /** How often a batch is sent, in ms (default 1000). */
  delayMs?: number;
}

const SEVERITY: Record<LogLevel, SeverityNumber> = {
  debug: SeverityNumber.DEBUG,
  info: SeverityNumber.INFO,
  warn: SeverityNumber.WARN,
  error: SeverityNumber.ERROR,
};

/** Sends log entries to an OTLP/HTTP collector. */
export class OtlpLogExporter implements LogExporter {
  readonly #provider: LoggerProvider;
  readonly #logger;
  readonly #maxQueue: number;
  readonly #url: string;
  #waiting = 0;
  #dropped = 0;
  #reported = false;

  constructor(options: OtlpOptions) {
    this.#maxQueue = options.maxQueue ?? 2048;
    this.#url = options.url;
    const exporter = new OTLPLogExporter({
      url: options.url,
      ...(options.headers ? { headers: options.headers } : {}),
      timeoutMillis: 5000,
    });
    this.#provider = new LoggerProvider({
      resource: resourceFromAttributes({ "service.name": options.serviceName }),
      processors: [
        new BatchLogRecordProcessor({
          exporter: this.#counting(exporter),
          maxQueueSize: this.#maxQueue,
          maxExportBatchSize: 512,
          scheduledDelayMillis: options.delayMs ?? 1000,
          exportTimeoutMillis: 5000,
        }),
      ],
    });
    this.#logger = this.#provider.getLogger("server-functions");
  }

  /** Entries dropped so far because the collector could not keep up. */
  get dropped(): number {
    return this.#dropped;
  }

  export(entry: NewLogEntry): void {
    if (this.#waiting >= this.#maxQueue) {
      this.#drop(1);
      return;
    }
    this.#waiting++;
    const attributes: Record<string, string | number> = { "log.type": entry.type };
    const fields = {
      "app.id": entry.app_id,
      "deployment.environment": entry.environment,
      "deployment.id": entry.deployment_id,
      "function.name": entry.function,
      "request.id": entry.request_id,
      "http.request.method": entry.method,
      "url.path": entry.path,
      "http.response.status_code": entry.status,
      "duration_ms": entry.duration_ms,
    };
    for (const [key, value] of Object.entries(fields)) {
      if (value !== null && value !== undefined) attributes[key] = value;
    }
    this.#logger.emit({
      timestamp: new Date(entry.time),
      severityNumber: SEVERITY[entry.level],
      severityText: entry.level.toUpperCase(),
      body: entry.message,
      attributes,
    });
  }

  async shutdown(): Promise<void> {
    await this.#provider.shutdown().catch(() => {});
  }

  #drop(count: number): void {
    this.#dropped += count;
    if (this.#reported) return;
    this.#reported = true;
    console.warn(
      `runtime logs: the OTLP collector at ${this.#url} is down or too slow; dropping log ` +
        "entries for it (invocations are not affected). This is reported once.",
    );
  }

  /** Wraps the exporter to know how many entries are still waiting, and to count failures. */
  #counting(inner: LogRecordExporter): LogRecordExporter {
    return {
      export: (records: ReadableLogRecord[], done) => {
        inner.export(records, (result) => {
          this.#waiting -= records.length;
          if (result.code !== 0) this.#drop(records.length);
          done(result);
        });
      },
      shutdown: () => inner.shutdown(),
      forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
    };
  }
}

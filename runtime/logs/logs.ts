/**
 * The runtime log pipeline: per-request capture with bounds, non-blocking batched writes to a
 * LogStore, and an optional exporter (OTLP). A handler's console call never waits on storage.
 */
import {
  LogBudget,
  type LogLevel,
  MAX_BYTES_PER_REQUEST,
  MAX_ENTRIES_PER_REQUEST,
} from "../sandbox/protocol.ts";
import type { LogEntry, LogPage, LogQuery, LogStore, NewLogEntry } from "./types.ts";
import { LineWindows } from "./line_windows.ts";
import { PlatformError } from "../errors.ts";

/** How long entries gather before one batch goes to the store, in ms: one transaction per batch. */
const FLUSH_DELAY_MS = 20;
/** Most entries handed to the store in one step of a flush. */
const FLUSH_SLICE = 128;

/** Most live log tails one app may have open at once. */
const MAX_TAILS_PER_APP = 8;
/** Most live log tails open at once, over all apps. */
const MAX_TAILS = 256;
/** The window of the per-app budget of lines outside requests, in ms. */
const EVENT_WINDOW_MS = 10_000;
/** Most lines outside requests an app may write per window. */
const EVENT_ENTRIES = 100;
/** Most characters of lines outside requests an app may write per window (64 KB). */
const EVENT_CHARS = 64 * 1024;
/** Longest line outside a request; a longer one is cut. */
const MAX_EVENT_CHARS = 16 * 1024;
/** The default window of the per-app budget of console lines, in ms. */
const APP_WINDOW_MS = 10_000;
/** Most console lines one app may write per window, over all its requests. */
const APP_ENTRIES = 20_000;
/** Most characters of console lines one app may write per window (8 MB). */
const APP_CHARS = 8 * 1024 * 1024;
/**
 * Most characters of entries waiting for the store, in all (32 MB): a store that cannot keep up
 * makes the pipeline shed new lines (counted per app) instead of holding them in host memory.
 */
const MAX_QUEUED_CHARS = 32 * 1024 * 1024;
/** What an entry counts against MAX_QUEUED_CHARS beyond its message: empty lines hold memory too. */
const ENTRY_CHARS = 256;

/** Most characters of a request's path kept in its log entry; a longer one is cut. */
const MAX_LOGGED_PATH = 512;

/** A request's path as its log entry keeps it: a client's path may have 64 KB. */
export function loggedPath(path: string): string {
  return path.length > MAX_LOGGED_PATH ? `${path.slice(0, MAX_LOGGED_PATH)}…` : path;
}

/** Receives every entry as it is written, e.g. to send it to a collector; must not block. */
export interface LogExporter {
  export(entry: NewLogEntry): void;
  /** Entries dropped so far because the destination could not keep up or was down. */
  readonly dropped: number;
  shutdown(): Promise<void>;
}

/** Where a request's entries belong. */
export interface RequestContext {
  appId: string;
  environment: string;
  deploymentId: string;
  function: string;
  requestId: string;
}

/** The log of one invocation: console lines under the bounds, then one request entry. */
export class RequestLog {
  readonly #logs: Logs;
  readonly #context: RequestContext;
  readonly #budget = new LogBudget();

  constructor(logs: Logs, context: RequestContext) {
    this.#logs = logs;
    this.#context = context;
  }

  /**
   * Records one console line; past the per-request bounds it is counted, not kept. `prepare`
   * (source mapping, redaction) runs only on a line that was admitted.
   */
  log(level: LogLevel, message: string, prepare: (text: string) => string = (t) => t): void {
    if (!this.#budget.admit(message.length)) return;
    if (!this.#logs.admitConsole(this.#context.appId, message.length)) return;
    this.#logs.write(this.#entry("console", level, prepare(message)));
  }

  /** Entries dropped so far past the per-request bounds. */
  get dropped(): number {
    return this.#budget.dropped;
  }

  /** Counts lines dropped before they reached the host (the sandbox applies the same bounds). */
  countDropped(entries: number, characters: number): void {
    this.#budget.dropped += entries;
    this.#budget.droppedCharacters += characters;
  }

  /** Writes the dropped-lines summary (if any) and the request entry. */
  finish(request: { method: string; path: string; status: number; durationMs: number }): void {
    const { dropped, droppedCharacters } = this.#budget;
    if (dropped > 0) {
      this.#logs.write(this.#entry(
        "event",
        "warn",
        `${dropped} log entries (${droppedCharacters} characters) were dropped: the limit ` +
          `is ${MAX_ENTRIES_PER_REQUEST} entries and ${MAX_BYTES_PER_REQUEST} bytes per request`,
      ));
    }
    const durationMs = Math.round(request.durationMs * 100) / 100;
    const level: LogLevel = request.status >= 500
      ? "error"
      : request.status >= 400
      ? "warn"
      : "info";
    const c = this.#context;
    const path = loggedPath(request.path);
    // One literal, in the field order of #entry: the hot path's entry is built once, not copied.
    this.#logs.write({
      time: this.#logs.isoNow(),
      level,
      type: "request",
      app_id: c.appId,
      environment: c.environment,
      deployment_id: c.deploymentId,
      function: c.function,
      request_id: c.requestId,
      message: `${request.method} ${path} ${request.status} ${durationMs}ms`,
      method: request.method,
      path,
      status: request.status,
      duration_ms: durationMs,
    });
  }

  #entry(type: LogEntry["type"], level: LogLevel, message: string): NewLogEntry {
    const c = this.#context;
    return {
      time: this.#logs.isoNow(),
      level,
      type,
      app_id: c.appId,
      environment: c.environment,
      deployment_id: c.deploymentId,
      function: c.function,
      request_id: c.requestId,
      message,
    };
  }
}

/** Dependencies of the log pipeline. */
export interface LogsOptions {
  store: LogStore;
  exporter?: LogExporter | undefined;
  /** The window of the per-app budget of console lines, in ms (default 10 s). */
  appWindowMs?: number | undefined;
}

/** The log pipeline of one server. */
export class Logs {
  readonly #store: LogStore;
  readonly #exporter: LogExporter | undefined;
  #queue: NewLogEntry[] = [];
  /** Live tails open, per app and in all. */
  readonly #tails = new Map<string, number>();
  #tailsOpen = 0;
  /**
   * The queue a flush is taking its slices from (from `#head` on), while new entries queue; the
   * slots of slices taken are emptied, so written entries are not held until it is drained.
   */
  #draining: Array<NewLogEntry | undefined> = [];
  #head = 0;
  /** Characters of the entries queued or being written to the store (ENTRY_CHARS each, too). */
  #queuedChars = 0;
  /** Per app: console lines over all its requests, per window. */
  readonly #consoleLines: LineWindows;
  /** Per app: lines outside any request, per window. */
  readonly #eventLines: LineWindows;
  #flushing: Promise<void> | null = null;
  /** The last time `isoNow` made, and its millisecond. */
  readonly #clock = { ms: -1, iso: "" };
  #storeFailed = false;

  constructor(options: LogsOptions) {
    this.#store = options.store;
    this.#exporter = options.exporter;
    const windowMs = options.appWindowMs ?? APP_WINDOW_MS;
    this.#consoleLines = new LineWindows(
      { entries: APP_ENTRIES, chars: APP_CHARS, windowMs },
      (appId, dropped, droppedChars) =>
        this.#writeEvent(
          appId,
          "warn",
          `${dropped} log lines (${droppedChars} characters) were dropped: an app may write ` +
            `${APP_ENTRIES} lines and ${APP_CHARS} characters per ${windowMs / 1000} s over ` +
            "all its requests, while the log pipeline has room",
        ),
    );
    this.#eventLines = new LineWindows(
      { entries: EVENT_ENTRIES, chars: EVENT_CHARS, windowMs: EVENT_WINDOW_MS },
      (appId, dropped, droppedChars) =>
        this.#writeEvent(
          appId,
          "warn",
          `${dropped} log lines outside requests (${droppedChars} characters) were ` +
            `dropped: the limit is ${EVENT_ENTRIES} lines and ${EVENT_CHARS} characters per ` +
            `${EVENT_WINDOW_MS / 1000} s per app`,
        ),
    );
  }

  /**
   * Now in ISO 8601, the time of an entry; made once per millisecond (a busy server writes
   * several entries each, and formatting a date costs about a microsecond).
   */
  isoNow(): string {
    const ms = Date.now();
    if (ms !== this.#clock.ms) {
      this.#clock.ms = ms;
      this.#clock.iso = new Date(ms).toISOString();
    }
    return this.#clock.iso;
  }

  /** Entries the exporter dropped so far (0 without an exporter). */
  get droppedExports(): number {
    return this.#exporter?.dropped ?? 0;
  }

  /** Starts the log of one request. */
  request(context: RequestContext): RequestLog {
    return new RequestLog(this, context);
  }

  /**
   * Records a line of an app that belongs to no running request (a timer, an unhandled
   * rejection, a sandbox stop). Such lines share a per-app budget of EVENT_ENTRIES entries and
   * EVENT_CHARS characters per EVENT_WINDOW_MS; past it they are counted, and one entry says
   * how many were dropped when the window closes (line_windows.ts). A line is cut at MAX_EVENT_CHARS.
   */
  event(
    appId: string,
    level: LogLevel,
    message: string,
    prepare: (text: string) => string = (t) => t,
  ): void {
    const text = message.length > MAX_EVENT_CHARS
      ? `${message.slice(0, MAX_EVENT_CHARS)}… (${message.length} characters, cut)`
      : message;
    if (!this.#eventLines.admit(appId, message.length, text.length)) return;
    this.#writeEvent(appId, level, prepare(text));
  }

  #writeEvent(appId: string, level: LogLevel, message: string): void {
    this.write({
      time: this.isoNow(),
      level,
      type: "event",
      app_id: appId,
      environment: null,
      deployment_id: null,
      function: null,
      request_id: null,
      message,
    });
  }

  /**
   * Whether one more console line of `length` characters fits the app's budget per window
   * (APP_ENTRIES, APP_CHARS) and the pipeline's room; a line that does not is counted, and one
   * entry says how many were dropped when the app's window closes.
   */
  admitConsole(appId: string, length: number): boolean {
    const full = this.#queuedChars + length + ENTRY_CHARS > MAX_QUEUED_CHARS;
    return this.#consoleLines.admit(appId, length, length, full);
  }

  /** Queues an entry; it reaches the store in the next batch, without anyone waiting on it. */
  write(entry: NewLogEntry): void {
    this.#queuedChars += entry.message.length + ENTRY_CHARS;
    this.#queue.push(entry);
    this.#exporter?.export(entry);
    this.#flushing ??= new Promise<void>((resolve) => setTimeout(resolve, FLUSH_DELAY_MS)).then(
      () => this.#flush(),
    );
  }

  /** A page of an app's entries, newest first, including every entry written so far. */
  async query(appId: string, query: LogQuery): Promise<LogPage> {
    await this.flush();
    return await this.#store.query(appId, query);
  }

  /**
   * An app's entries as they are stored, until `signal` aborts (bounded: see LogStore). At most
   * MAX_TAILS_PER_APP live tails per app and MAX_TAILS in all: past them it throws 429, since
   * each holds a queue and a stream and costs every entry published to its app.
   */
  tail(appId: string, signal: AbortSignal): AsyncIterable<LogEntry> {
    const open = this.#tails.get(appId) ?? 0;
    if (open >= MAX_TAILS_PER_APP || this.#tailsOpen >= MAX_TAILS) {
      throw new PlatformError(
        "limit",
        open >= MAX_TAILS_PER_APP
          ? `app "${appId}" already has ${open} live log tails, the limit`
          : `the server already has ${this.#tailsOpen} live log tails, the limit`,
        { retryAfterSeconds: 5 },
      );
    }
    this.#tails.set(appId, open + 1);
    this.#tailsOpen++;
    signal.addEventListener("abort", () => {
      this.#tailsOpen--;
      const left = this.#tails.get(appId)! - 1;
      if (left === 0) this.#tails.delete(appId);
      else this.#tails.set(appId, left);
    }, { once: true });
    return this.#store.tail(appId, signal);
  }

  /** Resolves once every entry written so far is in the store. */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  /** Flushes and stops the exporter. */
  async close(): Promise<void> {
    this.#consoleLines.closeAll();
    this.#eventLines.closeAll();
    await this.flush();
    await this.#exporter?.shutdown();
    await this.#store.close();
  }

  async #flush(): Promise<void> {
    // At most FLUSH_SLICE entries a step: a busy server's batch is encoded in pieces between
    // which requests run, not in one pause that every request behind it waits out.
    // Slices are cut from a queue taken whole, by index: splicing the front of a long queue
    // moved all the rest at every slice.
    if (this.#head >= this.#draining.length) {
      this.#draining = this.#queue;
      this.#queue = [];
      this.#head = 0;
    }
    const batch = this.#draining.slice(this.#head, this.#head + FLUSH_SLICE) as NewLogEntry[];
    this.#draining.fill(undefined, this.#head, this.#head + batch.length);
    this.#head += batch.length;
    if (this.#head >= this.#draining.length) [this.#draining, this.#head] = [[], 0];
    let chars = 0;
    for (const entry of batch) chars += entry.message.length + ENTRY_CHARS;
    try {
      await this.#store.append(batch);
      this.#storeFailed = false;
    } catch (error) {
      if (!this.#storeFailed) {
        console.error(`runtime logs: could not store ${batch.length} entries:`, error);
      }
      this.#storeFailed = true;
    } finally {
      // The batch is the store's now (or lost with it): its room is free again.
      this.#queuedChars -= chars;
      this.#flushing = this.#queue.length > 0 || this.#head < this.#draining.length
        ? this.#flush()
        : null;
    }
  }
}

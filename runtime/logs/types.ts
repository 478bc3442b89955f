/** Runtime log entries and the seam to wherever they are kept. */
import type { LogLevel } from "../sandbox/protocol.ts";

/** One log entry, in the shape the API returns (snake_case, like the deploy API). */
export interface LogEntry {
  /** `<ms>-<seq>`: unique per app, ordered by time; the paging cursor. */
  id: string;
  /** ISO 8601 time. */
  time: string;
  level: LogLevel;
  /** `console` (a handler's console), `request` (one per invocation) or `event` (platform). */
  type: "console" | "request" | "event";
  app_id: string;
  environment: string | null;
  deployment_id: string | null;
  /** The route file, e.g. `api/users/[id].ts`. */
  function: string | null;
  request_id: string | null;
  message: string;
  method?: string;
  path?: string;
  status?: number;
  duration_ms?: number;
}

/** A log entry before the store assigns its id. */
export type NewLogEntry = Omit<LogEntry, "id">;

/** Filters of a log query; every field is optional but `limit`. */
export interface LogQuery {
  function?: string;
  /** Minimum level. */
  level?: LogLevel;
  requestId?: string;
  deployment?: string;
  /** This environment's entries, and the app's entries of no environment (platform lines). */
  environment?: string;
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
  /** Case-insensitive substring of the message. */
  q?: string;
  limit: number;
  /** Return entries older than this id (from `next_cursor`). */
  cursor?: string;
}

/** A page of entries, newest first, and the cursor of the next page (null at the end). */
export interface LogPage {
  entries: LogEntry[];
  next_cursor: string | null;
}

/**
 * Keeps each app's recent log entries, bounded per app (oldest dropped first). Two
 * implementations pass the same suite: SqliteLogStore (embedded) and RedisLogStore.
 *
 * @example
 * ```ts
 * const logs: LogStore = new SqliteLogStore(":memory:", 10_000);
 * await logs.append([{ time: new Date().toISOString(), level: "info", type: "console",
 *   app_id: "shop", environment: "production", deployment_id: null, function: null,
 *   request_id: null, message: "hello" }]);
 * const { entries } = await logs.query("shop", { limit: 10, q: "hello" });
 * ```
 */
export interface LogStore {
  /** Appends entries (of any apps), assigning their ids. */
  append(entries: NewLogEntry[]): Promise<void>;
  /** Entries matching `query`, newest first. */
  query(appId: string, query: LogQuery): Promise<LogPage>;
  /**
   * Entries of `appId` appended from now on, oldest first, until `signal` aborts; ends with
   * TailOverflowError (runtime/logs/tail.ts) if the reader falls too far behind.
   */
  tail(appId: string, signal: AbortSignal): AsyncIterable<LogEntry>;
  /** Releases files and connections. */
  close(): Promise<void>;
}

/** Applies log filters, and bounds a page in entries and in bytes. */
import { LOG_LEVELS } from "../sandbox/protocol.ts";
import type { LogEntry, LogPage, LogQuery } from "./types.ts";

/** Most entries one page may hold. */
export const MAX_PAGE = 1000;
/**
 * Most bytes of entries (their stored JSON, UTF-8) one page may hold (4 MB): a page that reaches
 * it ends early, and its `next_cursor` continues after its last entry. A page always holds at
 * least one matching entry (one entry is at most about 256 KB: the per-request log bound).
 */
export const MAX_PAGE_BYTES = 4 * 1024 * 1024;
/** Most bytes of entries read from a store in one step while a page is gathered (1 MB). */
export const MAX_READ_BYTES = 1024 * 1024;

/**
 * Gathers one page, newest first, from entries offered in order: `offer` answers false once the
 * page is full (by count or by bytes), and the entry offered then is not on it.
 */
export class PageBuilder {
  readonly entries: LogEntry[] = [];
  #bytes = 0;
  #full = false;
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Adds a matching entry of `bytes` stored bytes; false (and nothing added) if it does not fit. */
  offer(entry: LogEntry, bytes: number): boolean {
    if (this.#full) return false;
    const fits = this.entries.length < this.#limit &&
      (this.entries.length === 0 || this.#bytes + bytes <= MAX_PAGE_BYTES);
    if (!fits) {
      this.#full = true;
      return false;
    }
    this.entries.push(entry);
    this.#bytes += bytes;
    return true;
  }

  /** Whether a matching entry was left off: the page has a next one. */
  get full(): boolean {
    return this.#full;
  }

  /** The page: its entries, and the cursor after the last one when more remain. */
  page(): LogPage {
    return {
      entries: this.entries,
      next_cursor: this.#full ? this.entries[this.entries.length - 1]!.id : null,
    };
  }
}

/** Whether `entry` passes the filters of `query` (paging aside). */
export function matches(entry: LogEntry, query: Omit<LogQuery, "limit" | "cursor">): boolean {
  if (query.level && LOG_LEVELS.indexOf(entry.level) < LOG_LEVELS.indexOf(query.level)) {
    return false;
  }
  if (query.function !== undefined && entry.function !== query.function) return false;
  if (query.requestId !== undefined && entry.request_id !== query.requestId) return false;
  if (query.deployment !== undefined && entry.deployment_id !== query.deployment) return false;
  if (
    query.environment !== undefined && entry.environment !== null &&
    entry.environment !== query.environment
  ) return false;
  const time = Date.parse(entry.time);
  if (query.since !== undefined && time < query.since) return false;
  if (query.until !== undefined && time >= query.until) return false;
  if (query.q !== undefined && !entry.message.toLowerCase().includes(query.q.toLowerCase())) {
    return false;
  }
  return true;
}

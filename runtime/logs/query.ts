/** Parses and applies log filters; a bad parameter is refused with 400 naming it. */
import { badRequest } from "../errors.ts";
import { LOG_LEVELS, type LogLevel } from "../sandbox/protocol.ts";
import type { LogEntry, LogQuery } from "./types.ts";

/** Most entries one page may hold. */
export const MAX_PAGE = 1000;
const ID = /^\d{1,16}-\d{1,10}$/;

function parseTime(name: string, raw: string): number {
  const value = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(value)) {
    throw badRequest(`${name} must be an ISO 8601 time or epoch milliseconds, got "${raw}"`);
  }
  return value;
}

/** Reads a LogQuery from URL parameters. */
export function parseLogQuery(params: URLSearchParams): LogQuery {
  const query: LogQuery = { limit: 100 };
  const level = params.get("level");
  if (level !== null) {
    if (!(LOG_LEVELS as readonly string[]).includes(level)) {
      throw badRequest(`level must be one of ${LOG_LEVELS.join(", ")}, got "${level}"`);
    }
    query.level = level as LogLevel;
  }
  const limit = params.get("limit");
  if (limit !== null) {
    const n = Number(limit);
    if (!/^\d+$/.test(limit) || n < 1 || n > MAX_PAGE) {
      throw badRequest(`limit must be a whole number from 1 to ${MAX_PAGE}, got "${limit}"`);
    }
    query.limit = n;
  }
  const cursor = params.get("cursor");
  if (cursor !== null) {
    if (!ID.test(cursor)) throw badRequest(`cursor is not a cursor from next_cursor: "${cursor}"`);
    query.cursor = cursor;
  }
  const since = params.get("since");
  if (since !== null) query.since = parseTime("since", since);
  const until = params.get("until");
  if (until !== null) query.until = parseTime("until", until);
  for (
    const [param, field] of [["function", "function"], ["request_id", "requestId"], [
      "deployment",
      "deployment",
    ], ["q", "q"]] as const
  ) {
    const value = params.get(param);
    if (value === null) continue;
    if (value.length === 0 || value.length > 512) {
      throw badRequest(`${param} must be 1 to 512 characters`);
    }
    query[field] = value;
  }
  return query;
}

/** Orders entry ids `<ms>-<seq>` by time, then sequence. */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split("-").map(Number);
  const [bm, bs] = b.split("-").map(Number);
  return am - bm || as - bs;
}

/** Whether `entry` passes the filters of `query` (paging aside). */
export function matches(entry: LogEntry, query: Omit<LogQuery, "limit" | "cursor">): boolean {
  if (query.level && LOG_LEVELS.indexOf(entry.level) < LOG_LEVELS.indexOf(query.level)) {
    return false;
  }
  if (query.function !== undefined && entry.function !== query.function) return false;
  if (query.requestId !== undefined && entry.request_id !== query.requestId) return false;
  if (query.deployment !== undefined && entry.deployment_id !== query.deployment) return false;
  const time = Date.parse(entry.time);
  if (query.since !== undefined && time < query.since) return false;
  if (query.until !== undefined && time >= query.until) return false;
  if (query.q !== undefined && !entry.message.toLowerCase().includes(query.q.toLowerCase())) {
    return false;
  }
  return true;
}

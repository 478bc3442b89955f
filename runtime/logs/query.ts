/** Applies log filters and orders entry ids. */
import { LOG_LEVELS } from "../sandbox/protocol.ts";
import type { LogEntry, LogQuery } from "./types.ts";

/** Most entries one page may hold. */
export const MAX_PAGE = 1000;

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

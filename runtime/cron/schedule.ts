/**
 * Schedules declared in code: a route file may `export const schedule = { cron, timezone?,
 * environments? }`; its default export then also runs on that schedule. Checked at deploy with
 * croner (a cron parser from npm), which also computes the next runs.
 */
import { Cron } from "croner";
import type { Diagnostic } from "../deploy/diagnostic.ts";
import { ENVIRONMENT } from "../ids.ts";
import { MAX_SCHEDULES_PER_DEPLOYMENT } from "../sandbox/protocol.ts";

/** Most environments one schedule may name. */
const MAX_SCHEDULE_ENVIRONMENTS = 64;
/** Longest time zone name taken (IANA names have at most about 30 characters). */
const MAX_TIMEZONE_CHARS = 64;
/** Most cron jobs one app environment may have: a deploy declaring more is refused. */
export const MAX_JOBS_PER_ENVIRONMENT = 20;
export { MAX_SCHEDULES_PER_DEPLOYMENT };

/** A route file's schedule, as checked. */
export interface Schedule {
  /** Five fields (minute precision) or six (seconds first). */
  cron: string;
  /** An IANA time zone; UTC when absent. */
  timezone: string;
  /** Environments it runs in (default: production only). */
  environments: string[];
}

/** A cron job of a live deployment. */
export interface Job {
  appId: string;
  environment: string;
  deploymentId: string;
  file: string;
  schedule: Schedule;
}

/** The next run of `schedule` after `after`, or null if there is none. */
export function nextRun(schedule: Schedule, after = new Date()): Date | null {
  return new Cron(schedule.cron, { timezone: schedule.timezone, paused: true }).nextRun(after);
}

/**
 * Checks what a deployment's modules export as `schedule` (route file → value, as the sandbox
 * read them); returns the schedules, or a diagnostic per file whose schedule is misshapen, one
 * for each environment past its job limit, or the first expression that is invalid or never
 * runs. Linear in what the sandbox sent, with at most one failing expression searched.
 */
export function parseSchedules(
  raw: unknown,
): { schedules: Record<string, Schedule>; problems: Diagnostic[] } {
  const schedules: Record<string, Schedule> = {};
  const problems: Diagnostic[] = [];
  const entries = typeof raw === "object" && raw !== null ? Object.entries(raw) : [];
  // Counted before any expression is parsed: finding the next run of one that never matches
  // (Feb 30) takes the host milliseconds, and the sandbox reports what its code likes.
  if (entries.length > MAX_SCHEDULES_PER_DEPLOYMENT) {
    problems.push({
      file: entries[MAX_SCHEDULES_PER_DEPLOYMENT]![0],
      line: null,
      column: null,
      message: `schedule: more than ${MAX_SCHEDULES_PER_DEPLOYMENT} files export a schedule; ` +
        `the limit is ${MAX_SCHEDULES_PER_DEPLOYMENT} per deployment`,
    });
    return { schedules, problems };
  }
  // Shapes first, then the count per environment, then the expressions: croner's search for the
  // next run of one that never matches takes milliseconds, so at most one such is tried.
  const shaped: Array<[string, Schedule]> = [];
  for (const [file, value] of entries) {
    const problem = (message: string) =>
      problems.push({ file, line: null, column: null, message: `schedule: ${message}` });
    const { cron, timezone = "UTC", environments = ["production"] } = (value ?? {}) as Record<
      string,
      unknown
    >;
    if (typeof cron !== "string" || cron.length > 200) {
      problem('must be an object like { cron: "*/5 * * * *", timezone: "Europe/Paris" }');
      continue;
    }
    if (typeof timezone !== "string" || timezone.length > MAX_TIMEZONE_CHARS) {
      problem("timezone must be an IANA time zone name, like Europe/Paris");
      continue;
    }
    const valid = Array.isArray(environments) && environments.length > 0 &&
      environments.length <= MAX_SCHEDULE_ENVIRONMENTS &&
      environments.every((e) => typeof e === "string" && ENVIRONMENT.test(e));
    if (!valid) {
      problem(
        "environments must be a list of environment names, like " +
          `["production"] (at most ${MAX_SCHEDULE_ENVIRONMENTS})`,
      );
      continue;
    }
    shaped.push([file, { cron, timezone, environments: [...new Set(environments as string[])] }]);
  }
  const perEnvironment = new Map<string, string[]>();
  for (const [file, schedule] of shaped) {
    for (const environment of schedule.environments) {
      const files = perEnvironment.get(environment);
      if (files) files.push(file);
      else perEnvironment.set(environment, [file]);
    }
  }
  for (const [environment, files] of perEnvironment) {
    if (files.length <= MAX_JOBS_PER_ENVIRONMENT) continue;
    problems.push({
      file: files[MAX_JOBS_PER_ENVIRONMENT]!,
      line: null,
      column: null,
      message: `schedule: ${files.length} cron jobs would run in environment "${environment}"; ` +
        `the limit is ${MAX_JOBS_PER_ENVIRONMENT} per app environment`,
    });
  }
  if (problems.length > 0) return { schedules, problems };
  for (const [file, schedule] of shaped) {
    let message: string | null = null;
    try {
      if (nextRun(schedule) === null) message = `${schedule.cron} never runs`;
    } catch (error) {
      message = (error as Error).message;
    }
    if (message !== null) {
      problems.push({ file, line: null, column: null, message: `schedule: ${message}` });
      return { schedules: {}, problems };
    }
    schedules[file] = schedule;
  }
  return { schedules, problems };
}

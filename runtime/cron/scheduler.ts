/**
 * Runs cron jobs of live deployments on their schedules. Every instance keeps the job list
 * (re-read when the store says apps changed) and a clock; each due tick is claimed in the store
 * (`claimTick`: SET NX in Redis, memory when embedded), so a tick runs exactly once across
 * instances. A tick missed while the server was busy or down is not replayed: the job runs at
 * its next one.
 */
import type { JobRun, ScheduleStore } from "../store/types.ts";
import { type Job, nextRun } from "./schedule.ts";

/** How often due jobs are looked for, in ms. */
const TICK_MS = 200;
/** How long a tick's claim is kept, in ms: longer than any instance's clock is off. */
const CLAIM_TTL_MS = 10 * 60_000;

/** Runs one job once; answers how it went. */
export type JobRunner = (
  job: Job,
  scheduledAt: Date,
  trigger: JobRun["trigger"],
) => Promise<JobRun>;

/** A job with its next run. */
export interface JobState extends Job {
  nextRun: Date | null;
}

/** Dependencies of the scheduler. */
export interface SchedulerOptions {
  store: ScheduleStore;
  run: JobRunner;
}

/** The key of a job in the store: app, environment and route file. */
export function jobKey(job: Pick<Job, "appId" | "environment" | "file">): string {
  return `${job.appId}:${job.environment}:${job.file}`;
}

/** One instance's scheduler. Start with `start`, stop with `stop`. */
export class Scheduler {
  readonly #options: SchedulerOptions;
  #jobs = new Map<string, JobState>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #refreshing: Promise<void> | null = null;

  constructor(options: SchedulerOptions) {
    this.#options = options;
  }

  /** Loads the jobs and starts the clock. */
  async start(): Promise<void> {
    await this.refresh();
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  /** Re-reads the jobs from the store (keeping the next run of those unchanged). */
  refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        const jobs = await this.#options.store.listJobs();
        const next = new Map<string, JobState>();
        for (const job of jobs) {
          const key = jobKey(job);
          const known = this.#jobs.get(key);
          const same = known && known.deploymentId === job.deploymentId &&
            known.schedule.cron === job.schedule.cron &&
            known.schedule.timezone === job.schedule.timezone;
          next.set(key, same ? known : { ...job, nextRun: nextRun(job.schedule) });
        }
        this.#jobs = next;
      } catch {
        /* the store is unreachable: keep the jobs we know */
      } finally {
        this.#refreshing = null;
      }
    })();
    return this.#refreshing;
  }

  /** An app's jobs with their next runs and history, newest run first. */
  async list(appId: string): Promise<Array<JobState & { history: JobRun[] }>> {
    await this.refresh();
    const jobs = [...this.#jobs.values()].filter((job) => job.appId === appId);
    return await Promise.all(jobs.map(async (job) => ({
      ...job,
      history: await this.#options.store.listRuns(jobKey(job)),
    })));
  }

  /** Runs one job now, by hand; null when the app has no such job. */
  async runNow(appId: string, environment: string, file: string): Promise<JobRun | null> {
    await this.refresh();
    const job = this.#jobs.get(jobKey({ appId, environment, file }));
    if (!job) return null;
    return await this.#execute(job, new Date(), "manual");
  }

  /** Stops the clock; runs under way finish. */
  stop(): void {
    clearInterval(this.#timer);
  }

  #tick(): void {
    const now = new Date();
    for (const job of this.#jobs.values()) {
      if (!job.nextRun || job.nextRun > now) continue;
      const tick = job.nextRun;
      job.nextRun = nextRun(job.schedule, now);
      void this.#claimAndRun(job, tick);
    }
  }

  async #claimAndRun(job: Job, tick: Date): Promise<void> {
    try {
      const claimed = await this.#options.store.claimTick(
        `${jobKey(job)}:${tick.getTime()}`,
        CLAIM_TTL_MS,
      );
      if (claimed) await this.#execute(job, tick, "schedule");
    } catch { /* the store is unreachable: this tick is skipped */ }
  }

  async #execute(job: Job, at: Date, trigger: JobRun["trigger"]): Promise<JobRun> {
    const run = await this.#options.run(job, at, trigger);
    await this.#options.store.addRun(jobKey(job), run).catch(() => {});
    return run;
  }
}

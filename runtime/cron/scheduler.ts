/**
 * Runs cron jobs of live deployments on their schedules. Every instance keeps the job list and
 * the paused apps (re-read when the store says apps changed) and a clock; each due tick is
 * claimed in the store (`claimTick`: SET NX in Redis, memory when embedded), so a tick runs
 * exactly once across instances. A job never overlaps itself: a tick that finds its previous run
 * still going (`startRun`) is recorded as a `skipped` run. A tick missed while the server was
 * busy or down is not replayed: the job runs at its next one. Paused apps' ticks are not run.
 */
import type { JobRun, ScheduleStore } from "../store/types.ts";
import { type Job, MAX_JOBS_PER_ENVIRONMENT, nextRun } from "./schedule.ts";

/** How often due jobs are looked for, in ms. */
const TICK_MS = 200;
/** How long a tick's claim is kept, in ms: longer than any instance's clock is off. */
const CLAIM_TTL_MS = 10 * 60_000;
/** How long a run's mark lasts when nothing says how long a run may take, in ms. */
const DEFAULT_RUN_TTL_MS = 5 * 60_000;

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
  /**
   * The longest a run can take, in ms (the function time limit and some margin): a run's mark
   * outlives an instance that died during it by no more than this.
   */
  runTtlMs?: number;
}

/** The key of a job in the store: app, environment and route file. */
export function jobKey(job: Pick<Job, "appId" | "environment" | "file">): string {
  return `${job.appId}:${job.environment}:${job.file}`;
}

/** One instance's scheduler. Start with `start`, stop with `stop`. */
export class Scheduler {
  readonly #options: SchedulerOptions;
  #jobs = new Map<string, JobState>();
  #paused = new Set<string>();
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

  /**
   * Re-reads the jobs and the paused apps from the store (keeping the next run of unchanged
   * jobs). At most MAX_JOBS_PER_ENVIRONMENT jobs of an app environment are kept, whatever an
   * older store holds.
   */
  refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        const [jobs, paused] = await Promise.all([
          this.#options.store.listJobs(),
          this.#options.store.pausedApps(),
        ]);
        const next = new Map<string, JobState>();
        const perEnvironment = new Map<string, number>();
        for (const job of jobs) {
          const environment = `${job.appId}:${job.environment}`;
          const count = (perEnvironment.get(environment) ?? 0) + 1;
          perEnvironment.set(environment, count);
          if (count > MAX_JOBS_PER_ENVIRONMENT) continue;
          const key = jobKey(job);
          const known = this.#jobs.get(key);
          const same = known && known.deploymentId === job.deploymentId &&
            known.schedule.cron === job.schedule.cron &&
            known.schedule.timezone === job.schedule.timezone;
          next.set(key, same ? known : { ...job, nextRun: nextRun(job.schedule) });
        }
        this.#jobs = next;
        this.#paused = new Set(paused);
      } catch {
        /* the store is unreachable: keep the jobs we know */
      } finally {
        this.#refreshing = null;
      }
    })();
    return this.#refreshing;
  }

  /** An app's jobs with their next runs and history (newest run first), and whether it is paused. */
  async list(
    appId: string,
  ): Promise<{ paused: boolean; jobs: Array<JobState & { history: JobRun[] }> }> {
    await this.refresh();
    const jobs = [...this.#jobs.values()].filter((job) => job.appId === appId);
    return {
      paused: this.#paused.has(appId),
      jobs: await Promise.all(jobs.map(async (job) => ({
        ...job,
        history: await this.#options.store.listRuns(jobKey(job)),
      }))),
    };
  }

  /** Pauses (true) or resumes the scheduled runs of every job of an app, on every instance. */
  async setPaused(appId: string, paused: boolean): Promise<void> {
    await this.#options.store.setSchedulesPaused(appId, paused);
    await this.refresh();
  }

  /**
   * Runs one job now, by hand (paused or not; skipped if a run of it is going); null when the app
   * has no such job.
   */
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
      if (!this.#paused.has(job.appId)) void this.#claimAndRun(job, tick);
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

  /** Runs the job unless a run of it is going (then records a skipped run), and records it. */
  async #execute(job: Job, at: Date, trigger: JobRun["trigger"]): Promise<JobRun> {
    const { store } = this.#options;
    const key = jobKey(job);
    const token = await store.startRun(key, this.#options.runTtlMs ?? DEFAULT_RUN_TTL_MS);
    let run: JobRun;
    if (token === null) {
      run = {
        scheduled_at: at.toISOString(),
        duration_ms: 0,
        status: 0,
        outcome: "skipped",
        request_id: "",
        error: "the previous run of this job was still going, so this tick did not run",
        trigger,
      };
    } else {
      try {
        run = await this.#options.run(job, at, trigger);
      } finally {
        await store.endRun(key, token).catch(() => {});
      }
    }
    await store.addRun(key, run).catch(() => {});
    return run;
  }
}

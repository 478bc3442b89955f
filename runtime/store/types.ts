/**
 * The seams between the platform and wherever its state is kept: deployments and live
 * pointers, environment variables (stored encrypted), and per-app API keys. The embedded
 * store (store/file.ts) and the Redis one (store/redis.ts) implement all three and pass one
 * shared test suite.
 */
import type { Job, Schedule } from "../cron/schedule.ts";
import type { RateLimit } from "../ratelimit/types.ts";
import type { Route } from "../deploy/router.ts";

/** An immutable, successful deployment with everything needed to serve it again. */
export interface Deployment {
  id: string;
  appId: string;
  environment: string;
  /** ISO 8601 time of creation. */
  createdAt: string;
  source: string | null;
  bundleS3Key: string | null;
  message: string | null;
  /** Who deployed it: `admin` or the id of a per-app API key. */
  deployedBy: string;
  /** The deployed source files, path → text. */
  files: Record<string, string>;
  routes: Route[];
  /** Compiled route modules, route file → ES module source. */
  modules: Record<string, string>;
  /** Source maps of the compiled modules, route file → JSON text. */
  sourceMaps: Record<string, string>;
  /** Route file → its cron schedule, for files that export one. */
  schedules?: Record<string, Schedule>;
  /** name → version of each npm package bundled into it by `fn deploy`; absent when none. */
  packages?: Record<string, string>;
}

/** A deployment's compiled code: what a sandbox loads, read at each load (never kept in memory). */
export type DeploymentCode = Pick<Deployment, "modules" | "sourceMaps">;

/** A deployment without its files and code, as listings show it. */
export type DeploymentSummary = Omit<Deployment, "files" | "modules" | "sourceMaps">;

/** A query over an app's deployments, newest first. */
export interface DeploymentListQuery {
  environment?: string | undefined;
  /** Page size. */
  limit: number;
  /** Return deployments older than this id (the previous page's `nextCursor`). */
  before?: string | undefined;
}

/** One page of deployments, newest first. */
export interface DeploymentPage {
  deployments: DeploymentSummary[];
  /** Pass as `before` for the next page; null on the last one. */
  nextCursor: string | null;
}

/** Keeps deployments and which one is live per app and environment. */
export interface DeploymentStore {
  /** Records a new deployment; it is never changed afterwards. */
  put(deployment: Deployment): Promise<void>;
  /** Reads a deployment of an app, or null. */
  get(appId: string, id: string): Promise<Deployment | null>;
  /** Reads only a deployment's compiled code (what a sandbox loads), or null. */
  getCode(appId: string, id: string): Promise<DeploymentCode | null>;
  /**
   * Deletes the deployments of an app's environment beyond its newest `keep`, never the live or
   * the previous one; answers how many it deleted.
   */
  pruneDeployments(appId: string, environment: string, keep: number): Promise<number>;
  /** Lists an app's deployments, newest first. */
  list(appId: string, query: DeploymentListQuery): Promise<DeploymentPage>;
  /**
   * Makes `id` the live deployment of `appId` in `environment`, and bumps the versions. The
   * deployment it replaces (if another) becomes the environment's previous one, in the same step.
   */
  setLive(appId: string, environment: string, id: string): Promise<void>;
  /**
   * Every environment of an app with its previous deployment id: the one that was live before
   * the current one, by the record of live switches (what a plain rollback returns to).
   */
  previousOf(appId: string): Promise<Record<string, string>>;
  /** The live deployment id of `appId` in `environment`, or null. */
  getLive(appId: string, environment: string): Promise<string | null>;
  /** Every environment of an app with its live deployment id. */
  liveOf(appId: string): Promise<Record<string, string>>;
  /**
   * Deletes an environment of an app: its deployments, live and previous pointers, variables,
   * cron jobs and their runs (not the app's KV), and bumps the versions; false if it had none
   * of these.
   */
  deleteEnvironment(appId: string, environment: string): Promise<boolean>;
  /** Apps with a live deployment, by id, after `after`, at most `limit`; `next` pages on. */
  listApps(
    query: { after?: string | undefined; limit: number },
  ): Promise<{ apps: string[]; next: string | null }>;
}

/** An environment variable as stored: its value encrypted (runtime/vars/secrets.ts). */
export interface StoredVar {
  /** base64 of IV + AES-GCM ciphertext. */
  sealed: string;
  /** ISO 8601 time of the last change. */
  updatedAt: string;
}

/** Keeps each app environment's variables. */
export interface VarStore {
  /** Every variable of an app's environment, name → stored value. */
  listVars(appId: string, environment: string): Promise<Record<string, StoredVar>>;
  /** Sets one variable, and bumps the versions. */
  putVar(appId: string, environment: string, name: string, value: StoredVar): Promise<void>;
  /** Deletes one variable, and bumps the versions; false if it did not exist. */
  deleteVar(appId: string, environment: string, name: string): Promise<boolean>;
}

/** A per-app API key as stored: only a hash of its secret part. */
export interface StoredKey {
  id: string;
  appId: string;
  /** hex SHA-256 of the key's secret part. */
  hash: string;
  createdAt: string;
  /** A label the admin gave it (`fn keys create --name ci`); keys made before names have none. */
  name?: string;
}

/** Keeps per-app API keys. */
export interface KeyStore {
  putKey(key: StoredKey): Promise<void>;
  getKey(id: string): Promise<StoredKey | null>;
  listKeys(appId: string): Promise<StoredKey[]>;
  /** Deletes an app's key; false if the app has no such key. */
  deleteKey(appId: string, id: string): Promise<boolean>;
}

/** Keeps each app's rate limit (runtime/ratelimit/types.ts). */
export interface RateLimitStore {
  getRateLimit(appId: string): Promise<RateLimit | null>;
  /** Sets or (null) removes the app's limit, and bumps the versions. */
  setRateLimit(appId: string, limit: RateLimit | null): Promise<void>;
}

/** One run of a cron job, as its history shows it. */
export interface JobRun {
  /** ISO 8601: the tick it ran for (or when it was started by hand). */
  scheduled_at: string;
  duration_ms: number;
  /** The HTTP status the handler answered; 0 for a run that was skipped. */
  status: number;
  /** `skipped`: the tick found the job's previous run still going, and did not run it. */
  outcome: "ok" | "error" | "skipped";
  /** The run's request id; empty for a run that was skipped. */
  request_id: string;
  /** Why it failed or was skipped, when it was. */
  error?: string;
  /** `schedule` or `manual`. */
  trigger: "schedule" | "manual";
}

/** Most runs kept per job. */
export const MAX_JOB_RUNS = 20;

/** Keeps cron jobs of live deployments, their runs, and who runs each tick. */
export interface ScheduleStore {
  /** Sets the jobs of an app environment's live deployment (an empty list removes them). */
  putJobs(appId: string, environment: string, jobs: Job[]): Promise<void>;
  /** Every job of every app. */
  listJobs(): Promise<Job[]>;
  /**
   * Claims `key` (one tick of one job) for `ttlMs`: true for exactly one caller across instances.
   * Costs O(1) amortised per claim.
   */
  claimTick(key: string, ttlMs: number): Promise<boolean>;
  /**
   * Marks job `jobKey` as running for at most `ttlMs`, across instances; answers a token for
   * `endRun`, or null when a run of it is already going.
   */
  startRun(jobKey: string, ttlMs: number): Promise<string | null>;
  /** Ends the run that `startRun` answered `token` for (a later run's mark is left alone). */
  endRun(jobKey: string, token: string): Promise<void>;
  /** Pauses (true) or resumes the scheduled runs of every job of an app; kept across restarts. */
  setSchedulesPaused(appId: string, paused: boolean): Promise<void>;
  /** The apps whose schedules are paused. */
  pausedApps(): Promise<string[]>;
  /** Records a run of job `jobKey`, keeping the newest MAX_JOB_RUNS. */
  addRun(jobKey: string, run: JobRun): Promise<void>;
  /** The runs of job `jobKey`, newest first. */
  listRuns(jobKey: string): Promise<JobRun[]>;
}

/**
 * Everything the platform keeps; instances sharing one store share all of it. Two
 * implementations pass the same suites: FileStore (embedded, files under DATA_DIR) and
 * RedisStore.
 *
 * @example
 * ```ts
 * const store: PlatformStore = new FileStore("./.data");
 * await store.setLive("shop", "production", "dpl_0000000000000000000000ab");
 * await store.getLive("shop", "production"); // → "dpl_0000000000000000000000ab"
 * ```
 */
export interface PlatformStore
  extends DeploymentStore, VarStore, KeyStore, RateLimitStore, ScheduleStore {
  /** A number that changes whenever a live pointer, a variable or a rate limit changes, on any instance. */
  version(): Promise<number>;
  /** Per app, a number that changes whenever that app's live pointers or variables change. */
  appVersions(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

/** Drops the files and code of a deployment, for listings. */
export function summarize(deployment: Deployment): DeploymentSummary {
  const { files: _files, modules: _modules, sourceMaps: _maps, ...summary } = deployment;
  return summary;
}

/** Pages summaries already sorted newest first (ids sort by creation time). */
export function pageOf(all: DeploymentSummary[], query: DeploymentListQuery): DeploymentPage {
  const matching = all.filter((d) =>
    (!query.environment || d.environment === query.environment) &&
    (!query.before || d.id < query.before)
  );
  const deployments = matching.slice(0, query.limit);
  return {
    deployments,
    nextCursor: matching.length > query.limit ? deployments.at(-1)!.id : null,
  };
}

/**
 * The PlatformStore on Redis (either client of runtime/platform/redis.ts), shared by every instance.
 *
 * Keys: `fn:app:<app>:dep:<id>` (deployment JSON), `fn:app:<app>:deps` and
 * `fn:app:<app>:deps:<env>` (sorted sets of ids, ordered by id, i.e. by time),
 * `fn:app:<app>:summaries` (hash id → summary JSON), `fn:app:<app>:live` (hash env → id),
 * `fn:app:<app>:previous` (hash env → the id live before the current one),
 * `fn:app:<app>:vars:<env>` (hash name → stored var JSON), `fn:keys` (hash id → stored key
 * JSON), `fn:version` (bumped on every live or variable change, polled by instances) and
 * `fn:app-versions` (hash app → counter, bumped with it, to tell which apps changed). Each bump is
 * announced on the `fn:changes` channel (the app id as the message), so instances on a client that
 * can subscribe learn of it at once instead of at their next poll.
 */
import type { Job } from "../cron/schedule.ts";
import { jobKey } from "../cron/scheduler.ts";
import type { RateLimit } from "../ratelimit/types.ts";
import {
  evalCommand,
  pairs,
  type RedisArg,
  type RedisClient,
  type RedisReply,
  strings,
  whenReachable,
} from "../platform/redis.ts";
import {
  type Deployment,
  type DeploymentCode,
  type DeploymentListQuery,
  type DeploymentPage,
  type DeploymentSummary,
  type JobRun,
  MAX_JOB_RUNS,
  type PlatformStore,
  type StoredKey,
  type StoredVar,
  summarize,
} from "./types.ts";

const VERSION = "fn:version";
/** The channel each change is announced on, with the app id as the message. */
export const CHANGES_CHANNEL = "fn:changes";
const APP_VERSIONS = "fn:app-versions";
const KEYS = "fn:keys";
const JOBS = "fn:jobs";

/** The list of a job's last runs, by its key (`jobKey`: app, environment and file). */
function runsKey(key: string): string {
  return `fn:runs:${key}`;
}
/** App → when its schedules were paused. */
const PAUSED = "fn:schedules-paused";
/** KEYS: a job's running mark. ARGV: the token of the run that ends. */
const END_RUN_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`;
/** Apps with a live deployment, all with score 0, so they page in id order (ZRANGE BYLEX). */
const APPS = "fn:apps";
const app = (appId: string) => `fn:app:${appId}`;

/**
 * Moves an environment's live pointer and, in the same atomic step, records the deployment it
 * replaces as the previous one. KEYS: live hash, previous hash. ARGV: environment, id.
 */
const SET_LIVE_LUA = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old and old ~= ARGV[2] then redis.call('HSET', KEYS[2], ARGV[1], old) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 0
`;

/** Runs store calls, turning an unreachable Redis into an `unavailable` error that says so. */
function guard<T>(operation: () => Promise<T>): Promise<T> {
  return whenReachable(operation, "the platform's store (Redis)");
}

/** A PlatformStore in Redis, on either client of runtime/platform/redis.ts. */
export class RedisStore implements PlatformStore {
  readonly #redis: RedisClient;

  constructor(redis: RedisClient) {
    this.#redis = redis;
  }

  async put(deployment: Deployment): Promise<void> {
    return await guard(async () => {
      const base = app(deployment.appId);
      // The deployment is written before it is indexed, so a listing never names a missing one.
      await this.#send("SET", `${base}:dep:${deployment.id}`, JSON.stringify(deployment));
      await this.#redis.pipeline([
        ["HSET", `${base}:summaries`, deployment.id, JSON.stringify(summarize(deployment))],
        ["ZADD", `${base}:deps`, 0, deployment.id],
        ["ZADD", `${base}:deps:${deployment.environment}`, 0, deployment.id],
      ]);
    });
  }

  async get(appId: string, id: string): Promise<Deployment | null> {
    return await guard(async () => {
      const text = await this.#send("GET", `${app(appId)}:dep:${id}`);
      return text === null ? null : JSON.parse(String(text)) as Deployment;
    });
  }

  /** Reads the whole deployment and keeps its code (one value holds both). */
  async getCode(appId: string, id: string): Promise<DeploymentCode | null> {
    const deployment = await this.get(appId, id);
    return deployment && { modules: deployment.modules, sourceMaps: deployment.sourceMaps };
  }

  async pruneDeployments(appId: string, environment: string, keep: number): Promise<number> {
    return await guard(async () => {
      const base = app(appId);
      const [idsReply, live, previous] = await this.#redis.pipeline([
        ["ZRANGE", `${base}:deps:${environment}`, "+", "-", "BYLEX", "REV"],
        ["HGET", `${base}:live`, environment],
        ["HGET", `${base}:previous`, environment],
      ]);
      const drop = (strings(idsReply ?? null) as string[]).slice(keep)
        .filter((id) => id !== live && id !== previous);
      if (drop.length === 0) return 0;
      await this.#redis.pipeline([
        ["DEL", ...drop.map((id) => `${base}:dep:${id}`)],
        ["HDEL", `${base}:summaries`, ...drop],
        ["ZREM", `${base}:deps`, ...drop],
        ["ZREM", `${base}:deps:${environment}`, ...drop],
      ]);
      return drop.length;
    });
  }

  async list(appId: string, query: DeploymentListQuery): Promise<DeploymentPage> {
    return await guard(async () => {
      const base = app(appId);
      const index = query.environment ? `${base}:deps:${query.environment}` : `${base}:deps`;
      const ids = strings(
        await this.#send(
          "ZRANGE",
          index,
          query.before ? `(${query.before}` : "+",
          "-",
          "BYLEX",
          "REV",
          "LIMIT",
          0,
          query.limit + 1,
        ),
      ) as string[];
      if (ids.length === 0) return { deployments: [], nextCursor: null };
      const page = ids.slice(0, query.limit);
      const texts = strings(await this.#send("HMGET", `${base}:summaries`, ...page));
      const deployments = texts.map((text) => JSON.parse(text!) as DeploymentSummary);
      return { deployments, nextCursor: ids.length > query.limit ? page.at(-1)! : null };
    });
  }

  async setLive(appId: string, environment: string, id: string): Promise<void> {
    return await guard(async () => {
      await this.#change(appId, [
        evalCommand(SET_LIVE_LUA, [`${app(appId)}:live`, `${app(appId)}:previous`], [
          environment,
          id,
        ]),
        ["ZADD", APPS, 0, appId],
      ]);
    });
  }

  async previousOf(appId: string): Promise<Record<string, string>> {
    return await guard(async () => pairs(await this.#send("HGETALL", `${app(appId)}:previous`)));
  }

  async liveOf(appId: string): Promise<Record<string, string>> {
    return await guard(async () => pairs(await this.#send("HGETALL", `${app(appId)}:live`)));
  }

  async deleteEnvironment(appId: string, environment: string): Promise<boolean> {
    return await guard(async () => {
      const base = app(appId);
      const field = `${appId}:${environment}`;
      const [idsReply, live, jobsText] = await this.#redis.pipeline([
        ["ZRANGE", `${base}:deps:${environment}`, 0, -1],
        ["HGET", `${base}:live`, environment],
        ["HGET", JOBS, field],
      ]);
      const ids = strings(idsReply ?? null) as string[];
      const jobs = jobsText ? JSON.parse(String(jobsText)) as Job[] : [];
      const commands: RedisArg[][] = [];
      if (ids.length > 0) {
        commands.push(
          ["DEL", ...ids.map((id) => `${base}:dep:${id}`)],
          ["HDEL", `${base}:summaries`, ...ids],
          ["ZREM", `${base}:deps`, ...ids],
        );
      }
      commands.push(
        ["DEL", `${base}:deps:${environment}`, `${base}:vars:${environment}`],
        ["HDEL", `${base}:live`, environment],
        ["HDEL", `${base}:previous`, environment],
        ["HDEL", JOBS, field],
        ...jobs.map((job) => ["DEL", runsKey(jobKey(job))]),
      );
      await this.#change(appId, commands);
      const left = Number(await this.#send("HLEN", `${base}:live`));
      if (left === 0) await this.#send("ZREM", APPS, appId);
      return ids.length > 0 || live !== null;
    });
  }

  async listApps(query: { after?: string; limit: number }) {
    return await guard(async () => {
      const apps = strings(
        await this.#send(
          "ZRANGE",
          APPS,
          query.after ? `(${query.after}` : "-",
          "+",
          "BYLEX",
          "LIMIT",
          0,
          query.limit + 1,
        ),
      ) as string[];
      const page = apps.slice(0, query.limit);
      return { apps: page, next: apps.length > query.limit ? page.at(-1)! : null };
    });
  }

  async getLive(appId: string, environment: string): Promise<string | null> {
    return await guard(async () => {
      return await this.#send("HGET", `${app(appId)}:live`, environment) as string | null;
    });
  }

  async listVars(appId: string, environment: string): Promise<Record<string, StoredVar>> {
    return await guard(async () => {
      const all = pairs(await this.#send("HGETALL", `${app(appId)}:vars:${environment}`));
      const vars: Record<string, StoredVar> = Object.create(null);
      for (const [name, text] of Object.entries(all)) vars[name] = JSON.parse(text);
      return vars;
    });
  }

  async putVar(appId: string, environment: string, name: string, value: StoredVar) {
    return await guard(async () => {
      await this.#change(appId, [
        ["HSET", `${app(appId)}:vars:${environment}`, name, JSON.stringify(value)],
      ]);
    });
  }

  async deleteVar(appId: string, environment: string, name: string): Promise<boolean> {
    return await guard(async () => {
      const [deleted] = await this.#change(appId, [
        ["HDEL", `${app(appId)}:vars:${environment}`, name],
      ]);
      return Number(deleted) > 0;
    });
  }

  async getRateLimit(appId: string): Promise<RateLimit | null> {
    return await guard(async () => {
      const text = await this.#send("GET", `${app(appId)}:rate-limit`);
      return text ? JSON.parse(String(text)) as RateLimit : null;
    });
  }

  async setRateLimit(appId: string, limit: RateLimit | null): Promise<void> {
    await guard(async () => {
      await this.#change(appId, [
        limit === null
          ? ["DEL", `${app(appId)}:rate-limit`]
          : ["SET", `${app(appId)}:rate-limit`, JSON.stringify(limit)],
      ]);
    });
  }

  async putJobs(appId: string, environment: string, jobs: Job[]): Promise<void> {
    await guard(async () => {
      const field = `${appId}:${environment}`;
      // The runs of jobs no longer deployed go with them: each deploy may name new files.
      const before = await this.#send("HGET", JOBS, field);
      const kept = new Set(jobs.map((job) => job.file));
      const gone = typeof before === "string"
        ? (JSON.parse(before) as Job[]).filter((job) => !kept.has(job.file))
        : [];
      await this.#change(appId, [
        jobs.length > 0 ? ["HSET", JOBS, field, JSON.stringify(jobs)] : ["HDEL", JOBS, field],
        ...gone.map((job) => ["DEL", runsKey(jobKey(job))]),
      ]);
    });
  }

  async listJobs(): Promise<Job[]> {
    return await guard(async () => {
      const all = pairs(await this.#send("HGETALL", JOBS));
      return Object.values(all).flatMap((text) => JSON.parse(text) as Job[]);
    });
  }

  async claimTick(key: string, ttlMs: number): Promise<boolean> {
    return await guard(async () =>
      (await this.#send("SET", `fn:tick:${key}`, "1", "NX", "PX", ttlMs)) === "OK"
    );
  }

  async startRun(jobKey: string, ttlMs: number): Promise<string | null> {
    const token = crypto.randomUUID();
    return await guard(async () =>
      (await this.#send("SET", `fn:running:${jobKey}`, token, "NX", "PX", ttlMs)) === "OK"
        ? token
        : null
    );
  }

  async endRun(jobKey: string, token: string): Promise<void> {
    await guard(async () => {
      await this.#redis.send(evalCommand(END_RUN_LUA, [`fn:running:${jobKey}`], [token]));
    });
  }

  async setSchedulesPaused(appId: string, paused: boolean): Promise<void> {
    await guard(async () => {
      await this.#change(appId, [
        paused ? ["HSET", PAUSED, appId, new Date().toISOString()] : ["HDEL", PAUSED, appId],
      ]);
    });
  }

  async pausedApps(): Promise<string[]> {
    return await guard(async () => Object.keys(pairs(await this.#send("HGETALL", PAUSED))));
  }

  async addRun(jobKey: string, run: JobRun): Promise<void> {
    await guard(async () => {
      await this.#redis.pipeline([
        ["LPUSH", runsKey(jobKey), JSON.stringify(run)],
        ["LTRIM", runsKey(jobKey), 0, MAX_JOB_RUNS - 1],
      ]);
    });
  }

  async listRuns(jobKey: string): Promise<JobRun[]> {
    return await guard(async () => {
      const runs = strings(await this.#send("LRANGE", runsKey(jobKey), 0, MAX_JOB_RUNS - 1));
      return runs.map((text) => JSON.parse(text!) as JobRun);
    });
  }

  async putKey(key: StoredKey): Promise<void> {
    return await guard(async () => {
      await this.#send("HSET", KEYS, key.id, JSON.stringify(key));
    });
  }

  async getKey(id: string): Promise<StoredKey | null> {
    return await guard(async () => {
      const text = await this.#send("HGET", KEYS, id);
      return text === null ? null : JSON.parse(String(text)) as StoredKey;
    });
  }

  async listKeys(appId: string): Promise<StoredKey[]> {
    return await guard(async () => {
      const all = pairs(await this.#send("HGETALL", KEYS));
      return Object.values(all).map((text) => JSON.parse(text) as StoredKey)
        .filter((key) => key.appId === appId);
    });
  }

  async deleteKey(appId: string, id: string): Promise<boolean> {
    return await guard(async () => {
      const key = await this.getKey(id);
      if (!key || key.appId !== appId) return false;
      return Number(await this.#send("HDEL", KEYS, id)) > 0;
    });
  }

  async appVersions(): Promise<Record<string, number>> {
    return await guard(async () => {
      const all = pairs(await this.#send("HGETALL", APP_VERSIONS));
      return Object.fromEntries(Object.entries(all).map(([app, n]) => [app, Number(n)]));
    });
  }

  async version(): Promise<number> {
    return await guard(async () => {
      return Number(await this.#send("GET", VERSION) ?? 0);
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Runs `commands` in a pipeline, then bumps the versions other instances poll and announces
   * the change. The bump and the announcement come last, so an instance that sees either also
   * sees the change.
   */
  async #change(appId: string, commands: RedisArg[][]): Promise<RedisReply[]> {
    return await this.#redis.pipeline([
      ...commands,
      ["HINCRBY", APP_VERSIONS, appId, 1],
      ["INCR", VERSION],
      ["PUBLISH", CHANGES_CHANNEL, appId],
    ]);
  }

  #send(...args: RedisArg[]): Promise<RedisReply> {
    return this.#redis.send(args);
  }
}

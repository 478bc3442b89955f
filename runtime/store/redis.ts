/**
 * The PlatformStore on Redis (Upstash REST protocol), shared by every instance.
 *
 * Keys: `fn:app:<app>:dep:<id>` (deployment JSON), `fn:app:<app>:deps` and
 * `fn:app:<app>:deps:<env>` (sorted sets of ids, ordered by id, i.e. by time),
 * `fn:app:<app>:summaries` (hash id → summary JSON), `fn:app:<app>:live` (hash env → id),
 * `fn:app:<app>:previous` (hash env → the id live before the current one),
 * `fn:app:<app>:vars:<env>` (hash name → stored var JSON), `fn:keys` (hash id → stored key
 * JSON), `fn:version` (bumped on every live or variable change, polled by instances) and
 * `fn:app-versions` (hash app → counter, bumped with it, to tell which apps changed).
 */
import type { Pipeline, Redis } from "@upstash/redis";
import type { Job } from "../cron/schedule.ts";
import type { RateLimit } from "../ratelimit/types.ts";
import { whenReachable } from "../platform/redis.ts";
import {
  type Deployment,
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
const APP_VERSIONS = "fn:app-versions";
const KEYS = "fn:keys";
const JOBS = "fn:jobs";
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

/** A PlatformStore in Redis; build the client with runtime/platform/redis.ts. */
export class RedisStore implements PlatformStore {
  readonly #redis: Redis;

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  async put(deployment: Deployment): Promise<void> {
    return await guard(async () => {
      const base = app(deployment.appId);
      const member = { score: 0, member: deployment.id };
      // The deployment is written before it is indexed, so a listing never names a missing one.
      await this.#redis.set(`${base}:dep:${deployment.id}`, JSON.stringify(deployment));
      await this.#redis.pipeline()
        .hset(`${base}:summaries`, { [deployment.id]: JSON.stringify(summarize(deployment)) })
        .zadd(`${base}:deps`, member)
        .zadd(`${base}:deps:${deployment.environment}`, member)
        .exec();
    });
  }

  async get(appId: string, id: string): Promise<Deployment | null> {
    return await guard(async () => {
      const text = await this.#redis.get<string>(`${app(appId)}:dep:${id}`);
      return text === null ? null : JSON.parse(text) as Deployment;
    });
  }

  async list(appId: string, query: DeploymentListQuery): Promise<DeploymentPage> {
    return await guard(async () => {
      const base = app(appId);
      const index = query.environment ? `${base}:deps:${query.environment}` : `${base}:deps`;
      const ids = await this.#redis.zrange<string[]>(
        index,
        query.before ? `(${query.before}` : "+",
        "-",
        { byLex: true, rev: true, offset: 0, count: query.limit + 1 },
      );
      if (ids.length === 0) return { deployments: [], nextCursor: null };
      const page = ids.slice(0, query.limit);
      // Without automatic deserialisation the client answers HMGET with the raw array.
      const texts = await this.#redis.hmget(`${base}:summaries`, ...page) as unknown as string[];
      const deployments = texts.map((text) => JSON.parse(text) as DeploymentSummary);
      return { deployments, nextCursor: ids.length > query.limit ? page.at(-1)! : null };
    });
  }

  async setLive(appId: string, environment: string, id: string): Promise<void> {
    return await guard(async () => {
      await this.#change(
        appId,
        (p) =>
          p.eval(SET_LIVE_LUA, [`${app(appId)}:live`, `${app(appId)}:previous`], [environment, id])
            .zadd(APPS, { score: 0, member: appId }),
      );
    });
  }

  async previousOf(appId: string): Promise<Record<string, string>> {
    return await guard(async () => ({
      ...await this.#redis.hgetall<Record<string, string>>(`${app(appId)}:previous`),
    }));
  }

  async liveOf(appId: string): Promise<Record<string, string>> {
    return await guard(async () => ({
      ...await this.#redis.hgetall<Record<string, string>>(`${app(appId)}:live`),
    }));
  }

  async deleteEnvironment(appId: string, environment: string): Promise<boolean> {
    return await guard(async () => {
      const base = app(appId);
      const field = `${appId}:${environment}`;
      const [ids, live, jobsText] = await Promise.all([
        this.#redis.zrange<string[]>(`${base}:deps:${environment}`, 0, -1),
        this.#redis.hget<string>(`${base}:live`, environment),
        this.#redis.hget<string>(JOBS, field),
      ]);
      const jobs = jobsText ? JSON.parse(jobsText) as Job[] : [];
      await this.#change(appId, (p) => {
        if (ids.length > 0) {
          p.del(...ids.map((id) => `${base}:dep:${id}`));
          p.hdel(`${base}:summaries`, ...ids);
          p.zrem(`${base}:deps`, ...ids);
        }
        p.del(`${base}:deps:${environment}`, `${base}:vars:${environment}`);
        p.hdel(`${base}:live`, environment).hdel(`${base}:previous`, environment);
        p.hdel(JOBS, field);
        for (const job of jobs) p.del(`fn:runs:${field}:${job.file}`);
      });
      const left = await this.#redis.hlen(`${base}:live`);
      if (left === 0) await this.#redis.zrem(APPS, appId);
      return ids.length > 0 || live !== null;
    });
  }

  async listApps(query: { after?: string; limit: number }) {
    return await guard(async () => {
      const apps = await this.#redis.zrange<string[]>(
        APPS,
        query.after ? `(${query.after}` : "-",
        "+",
        { byLex: true, offset: 0, count: query.limit + 1 },
      );
      const page = apps.slice(0, query.limit);
      return { apps: page, next: apps.length > query.limit ? page.at(-1)! : null };
    });
  }

  async getLive(appId: string, environment: string): Promise<string | null> {
    return await guard(async () => {
      return await this.#redis.hget<string>(`${app(appId)}:live`, environment);
    });
  }

  async listVars(appId: string, environment: string): Promise<Record<string, StoredVar>> {
    return await guard(async () => {
      const all = await this.#redis.hgetall<Record<string, string>>(
        `${app(appId)}:vars:${environment}`,
      );
      const vars: Record<string, StoredVar> = Object.create(null);
      for (const [name, text] of Object.entries(all ?? {})) vars[name] = JSON.parse(text);
      return vars;
    });
  }

  async putVar(appId: string, environment: string, name: string, value: StoredVar) {
    return await guard(async () => {
      await this.#change(
        appId,
        (p) => p.hset(`${app(appId)}:vars:${environment}`, { [name]: JSON.stringify(value) }),
      );
    });
  }

  async deleteVar(appId: string, environment: string, name: string): Promise<boolean> {
    return await guard(async () => {
      const [deleted] = await this.#change(
        appId,
        (p) => p.hdel(`${app(appId)}:vars:${environment}`, name),
      );
      return Number(deleted) > 0;
    });
  }

  async getRateLimit(appId: string): Promise<RateLimit | null> {
    return await guard(async () => {
      const text = await this.#redis.get<string>(`${app(appId)}:rate-limit`);
      return text ? JSON.parse(text) as RateLimit : null;
    });
  }

  async setRateLimit(appId: string, limit: RateLimit | null): Promise<void> {
    await guard(async () => {
      await this.#change(
        appId,
        (p) =>
          limit === null
            ? p.del(`${app(appId)}:rate-limit`)
            : p.set(`${app(appId)}:rate-limit`, JSON.stringify(limit)),
      );
    });
  }

  async putJobs(appId: string, environment: string, jobs: Job[]): Promise<void> {
    await guard(async () => {
      const field = `${appId}:${environment}`;
      await this.#change(
        appId,
        (p) =>
          jobs.length > 0 ? p.hset(JOBS, { [field]: JSON.stringify(jobs) }) : p.hdel(JOBS, field),
      );
    });
  }

  async listJobs(): Promise<Job[]> {
    return await guard(async () => {
      const all = await this.#redis.hgetall<Record<string, string>>(JOBS);
      return Object.values(all ?? {}).flatMap((text) => JSON.parse(text) as Job[]);
    });
  }

  async claimTick(key: string, ttlMs: number): Promise<boolean> {
    return await guard(async () =>
      (await this.#redis.set(`fn:tick:${key}`, "1", { nx: true, px: ttlMs })) === "OK"
    );
  }

  async startRun(jobKey: string, ttlMs: number): Promise<string | null> {
    const token = crypto.randomUUID();
    return await guard(async () =>
      (await this.#redis.set(`fn:running:${jobKey}`, token, { nx: true, px: ttlMs })) === "OK"
        ? token
        : null
    );
  }

  async endRun(jobKey: string, token: string): Promise<void> {
    await guard(async () => {
      await this.#redis.eval(END_RUN_LUA, [`fn:running:${jobKey}`], [token]);
    });
  }

  async setSchedulesPaused(appId: string, paused: boolean): Promise<void> {
    await guard(async () => {
      await this.#change(
        appId,
        (p) =>
          paused ? p.hset(PAUSED, { [appId]: new Date().toISOString() }) : p.hdel(PAUSED, appId),
      );
    });
  }

  async pausedApps(): Promise<string[]> {
    return await guard(async () =>
      Object.keys(await this.#redis.hgetall<Record<string, string>>(PAUSED) ?? {})
    );
  }

  async addRun(jobKey: string, run: JobRun): Promise<void> {
    await guard(async () => {
      await this.#redis.pipeline()
        .lpush(`fn:runs:${jobKey}`, JSON.stringify(run))
        .ltrim(`fn:runs:${jobKey}`, 0, MAX_JOB_RUNS - 1)
        .exec();
    });
  }

  async listRuns(jobKey: string): Promise<JobRun[]> {
    return await guard(async () => {
      const runs = await this.#redis.lrange<string>(`fn:runs:${jobKey}`, 0, MAX_JOB_RUNS - 1);
      return runs.map((text) => JSON.parse(text) as JobRun);
    });
  }

  async putKey(key: StoredKey): Promise<void> {
    return await guard(async () => {
      await this.#redis.hset(KEYS, { [key.id]: JSON.stringify(key) });
    });
  }

  async getKey(id: string): Promise<StoredKey | null> {
    return await guard(async () => {
      const text = await this.#redis.hget<string>(KEYS, id);
      return text === null ? null : JSON.parse(text) as StoredKey;
    });
  }

  async listKeys(appId: string): Promise<StoredKey[]> {
    return await guard(async () => {
      const all = await this.#redis.hgetall<Record<string, string>>(KEYS);
      return Object.values(all ?? {}).map((text) => JSON.parse(text) as StoredKey)
        .filter((key) => key.appId === appId);
    });
  }

  async deleteKey(appId: string, id: string): Promise<boolean> {
    return await guard(async () => {
      const key = await this.getKey(id);
      if (!key || key.appId !== appId) return false;
      return Number(await this.#redis.hdel(KEYS, id)) > 0;
    });
  }

  async appVersions(): Promise<Record<string, number>> {
    return await guard(async () => {
      const all = await this.#redis.hgetall<Record<string, string>>(APP_VERSIONS) ?? {};
      return Object.fromEntries(Object.entries(all).map(([app, n]) => [app, Number(n)]));
    });
  }

  async version(): Promise<number> {
    return await guard(async () => {
      return Number(await this.#redis.get<string>(VERSION) ?? 0);
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Runs the commands `add` puts in a pipeline, then bumps the versions other instances poll.
   * The bump comes last, so an instance that sees it also sees the change.
   */
  async #change(appId: string, add: (pipeline: Pipeline) => unknown): Promise<unknown[]> {
    const pipeline = this.#redis.pipeline();
    add(pipeline);
    return await pipeline.hincrby(APP_VERSIONS, appId, 1).incr(VERSION).exec();
  }
}

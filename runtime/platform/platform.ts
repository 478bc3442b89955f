/** Assembles the platform's runtime parts from a Config: stores, sandbox pool, runner, sync. */
import { HeldShare } from "../budget.ts";
import { KvTurns } from "../kv/turns.ts";
import { ReportWindows } from "../invoke/report_windows.ts";
import { HostTime } from "../invoke/host_time.ts";
import { MAX_KV_REPLY_BYTES } from "../kv/types.ts";
import type { Config } from "./config.ts";
import { Deployments } from "../deploy/deployments.ts";
import { CompilerPool, type CompilerPoolOptions } from "../deploy/compiler/pool.ts";
import { Egress, secretNames } from "../egress/fetch.ts";
import { FunctionRunner } from "../invoke/runner.ts";
import { ApiKeys } from "../auth/keys.ts";
import { SqliteKv } from "../kv/sqlite.ts";
import type { KvBackend } from "../kv/types.ts";
import { RedisKv } from "../kv/redis.ts";
import { RedisLogStore } from "../logs/redis.ts";
import { openRedis, redisEndpoint, redisLocation } from "./redis_open.ts";
import { Logs } from "../logs/logs.ts";
import { SqliteLogStore } from "../logs/sqlite.ts";
import { OtlpLogExporter } from "../logs/otlp.ts";
import type { LogStore } from "../logs/types.ts";
import { Supervisor } from "../sandbox/host/supervisor.ts";
import { Scheduler } from "../cron/scheduler.ts";
import { Metrics } from "../metrics/metrics.ts";
import { MemorySeries } from "../metrics/series_memory.ts";
import { RedisSeries } from "../metrics/series_redis.ts";
import { RateLimits } from "../ratelimit/limits.ts";
import { MemoryRateLimiter } from "../ratelimit/memory.ts";
import { RedisRateLimiter } from "../ratelimit/redis.ts";
import { Cipher } from "../vars/secrets.ts";
import { FileStore } from "../store/file.ts";
import { CHANGES_CHANNEL, RedisStore } from "../store/redis.ts";
import type { PlatformStore } from "../store/types.ts";
import { startSync } from "./sync.ts";
import { EnvVars } from "../vars/vars.ts";

/** The runtime parts the HTTP layer needs, plus how to shut them down. */
export interface Platform {
  config: Config;
  /** Where deployments, variables, keys and the rest are kept (embedded files or Redis). */
  store: PlatformStore;
  deployments: Deployments;
  /** The compile processes deploys are compiled in. */
  compiler: CompilerPool;
  functions: FunctionRunner;
  kv: KvBackend;
  logs: Logs;
  sandboxes: Supervisor;
  vars: EnvVars;
  keys: ApiKeys;
  rateLimits: RateLimits;
  scheduler: Scheduler;
  metrics: Metrics;
  /** Tells the platform the port it serves on (when PORT was 0), so functions cannot fetch it. */
  listening(port: number): void;
  /** Null when every dependency answers, else which one fails and how. */
  unhealthy(): Promise<string | null>;
  /** Stops sandboxes and closes stores. */
  close(): Promise<void>;
}

/** Parts a caller may supply instead of the ones the config selects. */
export interface PlatformParts {
  store?: PlatformStore;
  kv?: KvBackend;
  logStore?: LogStore;
  /** Compile processes, e.g. with smaller budgets; closed with the platform. */
  compiler?: CompilerPool;
}

/** Largest response body a function's fetch may receive, in bytes (10 MB). */
const MAX_FETCH_RESPONSE_BYTES = 10 * 1024 * 1024;

/** How long loading a deployment's modules may take, in ms. */
const LOAD_TIMEOUT_MS = 10_000;
/** How long a request waits for a sandbox slot when all are busy, in ms, before its 503. */
const ACQUIRE_WAIT_MS = 2_000;
/** How often the supervisor reads each sandbox's memory and CPU, in ms. */
const WATCH_INTERVAL_MS = 100;
/** KV calls of one app the host works on at once (each may build a 3 MB reply); others wait. */
const KV_TURNS_PER_APP = 16;
/** The window of the apps' shares of the host's time for KV and fetch calls, in ms. */
const HOST_TIME_WINDOW_MS = 100;
/** CPU a sandbox may use with no request in flight over one window, in ms (half a core). */
const IDLE_CPU_MS = 1_000;
/** The window of that check, in ms. */
const IDLE_CPU_WINDOW_MS = 2_000;

/**
 * Compile processes (at most two: this is sized for a 2-core host) and what one deploy's compile
 * may use: 512 MB of memory (COMPILE_MEMORY_MB, sized from the container's memory), 10 s of CPU,
 * 15 s of wall clock, read from /proc every 50 ms. One idle for a minute is stopped, giving its
 * memory back.
 */
const COMPILER: CompilerPoolOptions = {
  size: 2,
  budgets: { memoryMb: 512, cpuMs: 10_000, wallMs: 15_000 },
  maxWaitingPerApp: 16,
  watchMs: 50,
  idleMs: 60_000,
};

/** How long a health check waits for a dependency, in ms. */
const HEALTH_TIMEOUT_MS = 2000;

/** The platform's own services, which functions may never fetch, whatever their address. */
function ownHosts(config: Config): string[] {
  const hosts = [`127.0.0.1:${config.port}`, `localhost:${config.port}`];
  if (config.redis) {
    const { hostname, port } = redisEndpoint(config.redis);
    hosts.push(hostname, `${hostname}:${port}`);
  }
  return hosts;
}

/** The embedded store's key, generated on first start and kept beside its data. */
async function embeddedSecretsKey(dataDir: string): Promise<string> {
  const path = `${dataDir}/secrets.key`;
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const key = Cipher.generateKey();
  await Deno.writeTextFile(path, key, { mode: 0o600, createNew: true });
  return key;
}

/** Builds the platform; the embedded stores live under `config.dataDir`. */
export async function createPlatform(config: Config, parts: PlatformParts = {}): Promise<Platform> {
  await Deno.mkdir(config.dataDir, { recursive: true });
  const redis = config.redis ? await openRedis(config.redis) : null;
  const store = parts.store ?? (redis ? new RedisStore(redis) : new FileStore(config.dataDir));
  const kv = parts.kv ??
    (redis
      ? new RedisKv(redis, config.kvQuota)
      : new SqliteKv(`${config.dataDir}/kv.sqlite`, config.kvQuota));
  const logs = new Logs({
    appWindowMs: config.logBudgetWindowMs,
    store: parts.logStore ??
      (redis
        ? new RedisLogStore(redis, config.logRetention)
        : new SqliteLogStore(`${config.dataDir}/logs.sqlite`, config.logRetention)),
    ...(config.otlp ? { exporter: new OtlpLogExporter(config.otlp) } : {}),
  });
  const ownPorts = new Set<number>(config.port ? [config.port] : []);
  if (config.redis) ownPorts.add(redisEndpoint(config.redis).port);
  const cipher = await Cipher.fromBase64(
    config.secretsKey ?? await embeddedSecretsKey(config.dataDir),
  );
  const vars = new EnvVars({ store, cipher, withheld: secretNames(config.egressRules) });
  /** KV and fetch calls that waited for their app's host-time share: logged once a window per app. */
  const callWaits = new ReportWindows();
  const hostTime = new HostTime({
    perAppMs: config.hostCallShare.perApp * HOST_TIME_WINDOW_MS,
    totalMs: config.hostCallShare.total * HOST_TIME_WINDOW_MS,
    windowMs: HOST_TIME_WINDOW_MS,
    // Asked for calls only, which come from sandboxes: `sandboxes` exists by then.
    othersActive: (appId) => sandboxes.othersBusy(appId),
    onWait: (appId, why) => {
      const count = callWaits.count(appId);
      if (count === null) return;
      logs.event(
        appId,
        "warn",
        `KV and fetch calls slowed: ${why} (${count} ${count === 1 ? "wait" : "waits"} since ` +
          `the last report; reported at most once every ${callWaits.seconds} s)`,
      );
    },
  });
  const sandboxes = await Supervisor.create({
    heapMb: config.memoryMb,
    memoryMb: config.sandboxes.memoryMb,
    memoryTotalMb: config.sandboxes.memoryTotalMb,
    maxSandboxes: config.sandboxes.max,
    inFlightPerApp: config.sandboxes.inFlightPerApp,
    cpuShare: config.sandboxes.cpuShare,
    coldStartsPerSecond: config.sandboxes.coldStartsPerSecond,
    spares: config.sandboxes.spares,
    idleMs: config.sandboxes.idleMs,
    loadTimeoutMs: LOAD_TIMEOUT_MS,
    acquireWaitMs: ACQUIRE_WAIT_MS,
    watchIntervalMs: WATCH_INTERVAL_MS,
    idleCpuMs: IDLE_CPU_MS,
    idleCpuWindowMs: IDLE_CPU_WINDOW_MS,
    replyBytes: new HeldShare(
      // Each app may always hold one largest reply: apps that never read cannot starve others.
      { ...config.bodyBytes, floor: MAX_KV_REPLY_BYTES + 64 * 1024 },
      "KV reply bytes",
      "bytes of KV replies its sandboxes have not read yet",
    ),
    kvTurns: new KvTurns(KV_TURNS_PER_APP, hostTime),
    hostTime,
    onEvent: (appId, _environment, level, message) =>
      logs.event(appId, level, message, (text) => vars.redactForApp(appId, text)),
  });
  // Runs jobs through `functions`, built below; it starts once everything exists.
  const scheduler: Scheduler = new Scheduler({
    store,
    run: (job, at, trigger) => functions.runScheduled(job, at, trigger),
    // A run ends by its time limit; the margin covers the sandbox's start and the run's record.
    runTtlMs: config.timeoutMs + 60_000,
  });
  const metrics = new Metrics(
    () => sandboxes.stats(),
    redis ? new RedisSeries(redis) : new MemorySeries(),
  );
  const compiler = parts.compiler ??
    new CompilerPool({
      ...COMPILER,
      budgets: { ...COMPILER.budgets, memoryMb: config.compileMemoryMb },
    });
  const deployments = new Deployments({
    store,
    sandboxes,
    compiler,
    onJobsChanged: () => void scheduler.refresh(),
    onLimit: (appId, message) => logs.event(appId, "warn", message),
    maxEnvironments: config.maxEnvironments,
    keepDeployments: config.keepDeployments,
  });
  const rateLimits = new RateLimits({
    store,
    limiter: redis ? new RedisRateLimiter(redis) : new MemoryRateLimiter(),
  });
  const keys = new ApiKeys(store, config.apiKey);
  const functions = new FunctionRunner({
    deployments,
    sandboxes,
    rateLimits,
    metrics,
    kv,
    logs,
    vars,
    egress: new Egress({
      rules: config.egressRules,
      blockedHosts: ownHosts(config),
      ownPorts: () => ownPorts,
      maxResponseBytes: MAX_FETCH_RESPONSE_BYTES,
    }),
    timeoutMs: config.timeoutMs,
    maxBodyBytes: config.maxBodyBytes,
    adminKey: config.apiKey,
    keys,
    bodyIdleMs: config.bodyIdleMs,
    trustProxy: config.trustProxy,
    bodyBytes: new HeldShare(config.bodyBytes, "request body bytes", "bytes of request bodies"),
    fetches: new HeldShare(config.fetches, "outbound fetches", "outbound fetches in flight"),
    fetchBodyBytes: new HeldShare(
      config.bodyBytes,
      "outbound request body bytes",
      "bytes of outbound request bodies",
    ),
    hostTime,
  });
  await scheduler.start();
  const sync = startSync({
    store,
    intervalMs: config.syncIntervalMs,
    // Over TCP, changes are announced at once; the timed check is then only a safety net.
    ...(redis?.subscribe && !parts.store
      ? { subscribe: (listener) => redis.subscribe!(CHANGES_CHANNEL, listener) }
      : {}),
    async onChange(appIds) {
      for (const appId of appIds) {
        vars.invalidate(appId);
        rateLimits.invalidate(appId);
      }
      void scheduler.refresh();
      await deployments.refresh(appIds);
    },
  });
  return {
    config,
    store,
    deployments,
    compiler,
    functions,
    kv,
    logs,
    sandboxes,
    vars,
    keys,
    rateLimits,
    scheduler,
    metrics,
    listening(port) {
      ownPorts.add(port);
    },
    async unhealthy() {
      if (!redis) return null;
      try {
        await Promise.race([
          Promise.all([kv.ping(), store.version()]),
          new Promise((_, reject) =>
            setTimeout(() => reject(new Error("no answer")), HEALTH_TIMEOUT_MS)
          ),
        ]);
        return null;
      } catch (error) {
        const why = redis.lastProblem() ?? (error as Error).message;
        return `redis is unreachable at ${redisLocation(config.redis!)}: ${why}`;
      }
    },
    async close() {
      await sync.stop();
      scheduler.stop();
      await compiler.close();
      await sandboxes.close();
      await logs.close();
      await metrics.series.close();
      await kv.close();
      await store.close();
      await redis?.close();
    },
  };
}

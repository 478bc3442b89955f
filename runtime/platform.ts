/** Assembles the platform's runtime parts from a Config: stores, sandbox pool, runner. */
import type { Config } from "./config.ts";
import { Deployments } from "./deployments.ts";
import { Egress } from "./egress/fetch.ts";
import { FunctionRunner } from "./invoke.ts";
import { SqliteKv } from "./kv/sqlite.ts";
import type { KvBackend } from "./kv/types.ts";
import { UpstashKv } from "./kv/upstash.ts";
import { RedisLogStore } from "./logs/redis.ts";
import { createRedis } from "./redis.ts";
import { Logs } from "./logs/logs.ts";
import { MemoryLogStore } from "./logs/memory.ts";
import { OtlpLogExporter } from "./logs/otlp.ts";
import type { LogStore } from "./logs/types.ts";
import { SandboxPool } from "./sandbox/pool.ts";
import { FileDeploymentStore } from "./store/file.ts";
import type { DeploymentStore } from "./store/types.ts";

/** The runtime parts the HTTP layer needs, plus how to shut them down. */
export interface Platform {
  config: Config;
  deployments: Deployments;
  functions: FunctionRunner;
  kv: KvBackend;
  logs: Logs;
  pool: SandboxPool;
  /** Stops sandboxes and closes stores. */
  close(): Promise<void>;
}

/** Parts a caller may supply instead of the embedded defaults. */
export interface PlatformParts {
  store?: DeploymentStore;
  kv?: KvBackend;
  logStore?: LogStore;
}

/** Largest response body a function's fetch may receive, in bytes (10 MB). */
export const MAX_FETCH_RESPONSE_BYTES = 10 * 1024 * 1024;

/** The platform's own services, which functions may never fetch, whatever their address. */
function ownHosts(config: Config): string[] {
  const hosts = [`127.0.0.1:${config.port}`, `localhost:${config.port}`];
  if (config.redis) {
    const url = new URL(config.redis.url);
    hosts.push(
      url.hostname,
      `${url.hostname}:${url.port || (url.protocol === "https:" ? "443" : "80")}`,
    );
  }
  return hosts;
}

/** Builds the platform; the embedded stores live under `config.dataDir`. */
export async function createPlatform(config: Config, parts: PlatformParts = {}): Promise<Platform> {
  await Deno.mkdir(config.dataDir, { recursive: true });
  const store = parts.store ?? new FileDeploymentStore(config.dataDir);
  const redis = config.redis ? createRedis(config.redis) : null;
  const kv = parts.kv ??
    (redis ? new UpstashKv(redis) : new SqliteKv(`${config.dataDir}/kv.sqlite`));
  const logs = new Logs({
    store: parts.logStore ??
      (redis
        ? new RedisLogStore(redis, config.logRetention)
        : new MemoryLogStore(config.logRetention)),
    exporter: config.otlp ? new OtlpLogExporter(config.otlp) : undefined,
  });
  const pool = await SandboxPool.create({
    memoryMb: config.memoryMb,
    loadTimeoutMs: 10_000,
    onEvent: (appId, level, message) => logs.event(appId, level, message),
  });
  const deployments = new Deployments({ store, pool });
  const functions = new FunctionRunner({
    deployments,
    pool,
    kv,
    logs,
    egress: new Egress({
      rules: config.egressRules,
      blockedHosts: ownHosts(config),
      maxResponseBytes: MAX_FETCH_RESPONSE_BYTES,
    }),
    timeoutMs: config.timeoutMs,
    maxBodyBytes: config.maxBodyBytes,
  });
  return {
    config,
    deployments,
    functions,
    kv,
    logs,
    pool,
    async close() {
      await pool.close();
      await logs.close();
      await kv.close();
    },
  };
}

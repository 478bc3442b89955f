import { type EgressRule, originOf } from "../egress/fetch.ts";
import { MAX_REQUEST_BYTES_CEILING } from "../sandbox/protocol.ts";
import { SECRETS_KEY_BYTES } from "../vars/secrets.ts";
import { availableParallelism } from "node:os";
import { type MemoryLimit, memoryLimit } from "./memory.ts";

/** Platform configuration, read from environment variables (see README "Configuration"). */

/** Everything the platform is configured with. */
export interface Config {
  /** TCP port to listen on (PORT, default 8000; 0 picks a free one). */
  port: number;
  /** Address to listen on (HOST, default 0.0.0.0). */
  hostname: string;
  /** Admin API key for /v1 (API_KEY); required. */
  apiKey: string;
  /** Folder for the embedded stores (DATA_DIR, default ./.data). */
  dataDir: string;
  /** Apps answer at `<appId>.<baseDomain>` (BASE_DOMAIN, default localhost). */
  baseDomain: string;
  /**
   * The one host name (lower-case, no port) that serves `/v1`, `/studio`, `/metrics` and
   * `/healthz` (PLATFORM_HOST). Null, the default, means any host not under `baseDomain`.
   */
  platformHost: string | null;
  /**
   * The app `/functions/...` serves on a host that names no app (DEFAULT_APP, unset by default;
   * `fn dev` sets it, so a project answers at `localhost:8000/functions/...`).
   */
  defaultApp: string | null;
  /** Execution time limit per request, in ms (FUNCTION_TIMEOUT_MS, default 30000). */
  timeoutMs: number;
  /** V8 heap cap per sandbox, in MB (FUNCTION_MEMORY_MB, default 128). */
  memoryMb: number;
  /** The sandbox processes and their bounds (see README "Sandboxes"). */
  sandboxes: SandboxConfig;
  /** Request body limit for functions, in bytes (MAX_BODY_BYTES, default 1 MB). */
  maxBodyBytes: number;
  /**
   * How long a request body may go without a byte before it is answered 408, in ms
   * (REQUEST_BODY_TIMEOUT_MS, default 10000: shorter than the function time limit).
   */
  bodyIdleMs: number;
  /**
   * Whether a proxy in front (TRUST_PROXY=true) says who the client is: then a function sees the
   * `X-Forwarded-For` it sent and `X-Real-IP` is that list's last entry (the address the proxy
   * saw). Otherwise (the default) both are the connection's own address, and what a client sent
   * in them is dropped.
   */
  trustProxy: boolean;
  /**
   * Bytes of request bodies held at once (REQUEST_BODY_BYTES_PER_APP, default 32 MB;
   * REQUEST_BODY_BYTES_TOTAL, default 256 MB): past either, a request is refused with 503.
   */
  bodyBytes: { perApp: number; total: number };
  /**
   * Outbound fetches in flight at once, from the request to the end of the response's body
   * (OUTBOUND_FETCHES_PER_APP, default 256; OUTBOUND_FETCHES_TOTAL, default 4096): each holds a
   * socket of the host's. Past either, the handler's fetch rejects naming the budget.
   */
  fetches: { perApp: number; total: number };
  /**
   * The part of one core the host's main thread may spend on KV and fetch calls per 100 ms while
   * other apps are served, as fractions: one app's (APP_HOST_CALLS_PERCENT, default 25) and all
   * apps' (HOST_CALLS_PERCENT, default 50, at least the app's). Past either, the app's next
   * calls wait for the next 100 ms (runtime/invoke/host_time.ts).
   */
  hostCallShare: { perApp: number; total: number };
  /**
   * The shared Redis (README "Scale-out"): over TCP (REDIS_URL, `redis://` or `rediss://`) or over
   * the Upstash REST protocol (UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN); null means the
   * embedded stores. `timeoutMs` bounds each call (KV_TIMEOUT_MS, default 3000).
   */
  redis: RedisConfig | null;
  /** What one app's KV may hold (KV_MAX_KEYS, default 10000; KV_MAX_BYTES, default 100 MB). */
  kvQuota: { maxKeys: number; maxBytes: number };
  /**
   * The window of the per-app budget of console lines (20,000 lines and 8 MB per window), in ms
   * (LOG_BUDGET_WINDOW_MS, default 10000).
   */
  logBudgetWindowMs: number;
  /** Runtime log entries kept per app, oldest dropped first (LOG_RETENTION_ENTRIES, default 10000). */
  logRetention: number;
  /**
   * OTLP/HTTP log export, from the standard OTEL_EXPORTER_OTLP_LOGS_ENDPOINT or
   * OTEL_EXPORTER_OTLP_ENDPOINT (+ `/v1/logs`), OTEL_EXPORTER_OTLP_HEADERS and OTEL_SERVICE_NAME.
   */
  otlp: { url: string; headers: Record<string, string>; serviceName: string } | null;
  /** Outbound credential rules (EGRESS_RULES, a JSON array; see README "Outbound fetch"). */
  egressRules: EgressRule[];
  /**
   * AES-256 key for variables at rest (SECRETS_KEY, base64 of 32 bytes). Required with Redis;
   * the embedded store generates one into DATA_DIR when it is unset.
   */
  secretsKey: string | null;
  /**
   * How often an instance checks the shared store for changes by others, in ms (SYNC_INTERVAL_MS;
   * default 5000 with REDIS_URL, where changes are also announced by pub/sub, else 250).
   */
  syncIntervalMs: number;
  /** Most environments one app may have (MAX_ENVIRONMENTS, default 10). */
  maxEnvironments: number;
  /**
   * Deployments kept per environment (DEPLOYMENTS_KEPT, default 20, at least 2): older ones are
   * deleted after each deploy, never the live or the previous one.
   */
  keepDeployments: number;
  /**
   * The memory this instance may use: its cgroup's limit (a container's or pod's) when one is
   * set, else the machine's RAM. The memory-derived defaults are sized from it.
   */
  memory: MemoryLimit;
  /**
   * What one deploy's compile may use, in MB (COMPILE_MEMORY_MB; default an eighth of `memory`,
   * 256 to 512).
   */
  compileMemoryMb: number;
}

/** How the shared Redis is reached: TCP (`url` may carry a user and password) or REST. */
export type RedisConfig =
  | { kind: "tcp"; url: string; timeoutMs: number }
  | { kind: "rest"; url: string; token: string; timeoutMs: number };

/** Bounds of the sandbox supervisor. */
export interface SandboxConfig {
  /** Cap on all memory of one sandbox process (resident), in MB (SANDBOX_MEMORY_MB, default 256). */
  memoryMb: number;
  /**
   * Resident memory of all sandboxes together, in MB (SANDBOX_MEMORY_TOTAL_MB; default half of
   * the memory): new ones are admitted up to 90% of it, idle ones evicted past that, the largest
   * busy one killed past all of it.
   */
  memoryTotalMb: number;
  /** Most sandbox processes at once (MAX_SANDBOXES; default SANDBOX_MEMORY_TOTAL_MB / 40, 2 to 1000). */
  max: number;
  /** Pre-started spare processes (SPARE_SANDBOXES, default 2). */
  spares: number;
  /** A sandbox idle this long is stopped, in ms (SANDBOX_IDLE_MS, default 300000). */
  idleMs: number;
  /** Most requests of one app in flight at once, across its environments (APP_MAX_IN_FLIGHT, default 128). */
  inFlightPerApp: number;
  /**
   * The part of the CPU one app's sandboxes may use over a second before they run at the lowest
   * priority, 0–1 (APP_CPU_PERCENT, a whole percent, default 50).
   */
  cpuShare: number;
  /** Cold starts admitted a second, deploy warm-ups aside (COLD_STARTS_PER_SECOND, default 5 a CPU). */
  coldStartsPerSecond: number;
}

/** A configuration value that is missing or malformed. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

function integer(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  }
  return value;
}

/** A boolean setting: `true` or `false` (unset: false); anything else is a ConfigError. */
function trueOrFalse(env: Record<string, string | undefined>, name: string): boolean {
  const value = env[name];
  if (value === undefined || value === "" || value === "false") return false;
  if (value === "true") return true;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(value)}`);
}

function redisConfig(env: Record<string, string | undefined>): Config["redis"] {
  const timeoutMs = integer(env, "KV_TIMEOUT_MS", 3000);
  const url = env.UPSTASH_REDIS_REST_URL;
  const token = env.UPSTASH_REDIS_REST_TOKEN;
  if (env.REDIS_URL) {
    if (url || token) {
      throw new ConfigError(
        "set REDIS_URL or UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN, not both",
      );
    }
    return { kind: "tcp", url: redisUrl(env.REDIS_URL), timeoutMs };
  }
  if (!url && !token) return null;
  if (!url || !token) {
    throw new ConfigError(
      "set both UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN, or neither for the embedded store",
    );
  }
  return { kind: "rest", url, token, timeoutMs };
}

/** REDIS_URL: `redis://` or `rediss://`, a host, and optionally a user, password, port and db. */
function redisUrl(raw: string): string {
  let url: URL | null = null;
  try {
    url = new URL(raw);
  } catch { /* reported below */ }
  if (!url || (url.protocol !== "redis:" && url.protocol !== "rediss:") || !url.hostname) {
    throw new ConfigError(
      'REDIS_URL must look like "redis://[[user]:password@]host[:port][/db]" (rediss:// for TLS)',
    );
  }
  if (url.pathname !== "" && url.pathname !== "/" && !/^\/\d+$/.test(url.pathname)) {
    throw new ConfigError("REDIS_URL's path must be a database number, like redis://host:6379/0");
  }
  return raw;
}

function otlpConfig(env: Record<string, string | undefined>): Config["otlp"] {
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const url = env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT ||
    (base ? `${base.replace(/\/+$/, "")}/v1/logs` : "");
  if (!url) return null;
  const headers: Record<string, string> = {};
  for (const pair of (env.OTEL_EXPORTER_OTLP_HEADERS ?? "").split(",")) {
    const i = pair.indexOf("=");
    if (i > 0) {
      headers[decodeURIComponent(pair.slice(0, i).trim())] = decodeURIComponent(
        pair.slice(i + 1).trim(),
      );
    }
  }
  return { url, headers, serviceName: env.OTEL_SERVICE_NAME || "server-functions" };
}

function egressRules(raw: string | undefined): EgressRule[] {
  if (!raw) return [];
  let rules: unknown;
  try {
    rules = JSON.parse(raw);
  } catch {
    throw new ConfigError("EGRESS_RULES must be a JSON array of rules");
  }
  if (!Array.isArray(rules)) throw new ConfigError("EGRESS_RULES must be a JSON array of rules");
  return rules.map((rule, i) => {
    const { origin, host, headers = {}, allowPrivate = false } = rule ?? {};
    const valid = typeof headers === "object" && headers !== null &&
      Object.values(headers).every((v) => typeof v === "string");
    if (!valid) throw new ConfigError(`EGRESS_RULES[${i}].headers must be an object of strings`);
    if (typeof allowPrivate !== "boolean") {
      throw new ConfigError(`EGRESS_RULES[${i}].allowPrivate must be true or false`);
    }
    return { origin: ruleOrigin(origin, host, i), headers, allowPrivate };
  });
}

/**
 * A rule's origin, `scheme://host:port`: from `origin` ("https://api.example.com:8443"), or from
 * the older `host` ("api.example.com[:port]"), which means https.
 */
function ruleOrigin(origin: unknown, host: unknown, i: number): string {
  const text = typeof origin === "string"
    ? origin
    : typeof host === "string" && /^[a-z0-9.\-\[\]:]+$/i.test(host)
    ? `https://${host}`
    : null;
  if (text === null) {
    throw new ConfigError(
      `EGRESS_RULES[${i}].origin must be an origin like "https://api.example.com" ` +
        '(or .host a host name like "api.example.com")',
    );
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`EGRESS_RULES[${i}].origin "${text}" is not a valid origin`);
  }
  const bare = url.pathname === "/" && !url.search && !url.hash && !url.username &&
    !url.password;
  if ((url.protocol !== "https:" && url.protocol !== "http:") || !bare) {
    throw new ConfigError(
      `EGRESS_RULES[${i}].origin "${text}" must be http(s)://host[:port], with no path`,
    );
  }
  return originOf(url);
}

function secretsKey(raw: string | undefined, shared: boolean): string | null {
  if (!raw) {
    if (shared) {
      throw new ConfigError(
        "SECRETS_KEY must be set when Redis is configured, the same on every instance " +
          "(base64 of 32 random bytes: openssl rand -base64 32)",
      );
    }
    return null;
  }
  let bytes = 0;
  try {
    bytes = atob(raw).length;
  } catch { /* reported below */ }
  if (bytes !== SECRETS_KEY_BYTES) {
    throw new ConfigError(`SECRETS_KEY must be base64 of ${SECRETS_KEY_BYTES} bytes`);
  }
  return raw;
}

/**
 * The default memory budget of all sandboxes together, in MB: half of the memory (the container's
 * limit, else RAM), and at least one sandbox at its cap. Sandboxes are admitted by what they are
 * measured to hold, not by their cap.
 */
function defaultSandboxMemoryTotalMb(totalBytes: number, sandboxMemoryMb: number): number {
  return Math.max(sandboxMemoryMb, Math.floor(totalBytes / 2 / 1024 / 1024));
}

/** What a warm sandbox of a small app holds, in MB (a hello app's measures 35–40 MB). */
const TYPICAL_SANDBOX_MB = 40;

/**
 * The default cap on sandboxes: as many as fit in the sandboxes' memory budget at a typical
 * sandbox's size, 2 to 1000 (the memory budget, measured, is what bounds them first).
 */
function defaultMaxSandboxes(memoryTotalMb: number): number {
  return Math.min(1000, Math.max(2, Math.floor(memoryTotalMb / TYPICAL_SANDBOX_MB)));
}

/** The default compile budget: an eighth of the memory, at least 256 MB, at most 512 MB. */
function defaultCompileMemoryMb(totalBytes: number): number {
  return Math.min(512, Math.max(256, Math.floor(totalBytes / 8 / 1024 / 1024)));
}

function sandboxConfig(
  env: Record<string, string | undefined>,
  heapMb: number,
  memory: MemoryLimit,
): SandboxConfig {
  const memoryMb = integer(env, "SANDBOX_MEMORY_MB", Math.max(256, heapMb + 128));
  if (memoryMb < heapMb + 64) {
    throw new ConfigError(
      `SANDBOX_MEMORY_MB must be at least FUNCTION_MEMORY_MB + 64 (${heapMb + 64}): a sandbox ` +
        "process needs room for the runtime beside its heap",
    );
  }
  const memoryTotalMb = integer(
    env,
    "SANDBOX_MEMORY_TOTAL_MB",
    defaultSandboxMemoryTotalMb(memory.bytes, memoryMb),
  );
  if (memoryTotalMb < memoryMb) {
    throw new ConfigError(
      `SANDBOX_MEMORY_TOTAL_MB must be at least SANDBOX_MEMORY_MB (${memoryMb}): one sandbox at ` +
        "its cap must fit",
    );
  }
  const max = integer(env, "MAX_SANDBOXES", defaultMaxSandboxes(memoryTotalMb));
  if (max < 1) throw new ConfigError("MAX_SANDBOXES must be at least 1");
  return {
    memoryMb,
    memoryTotalMb,
    max,
    spares: integer(env, "SPARE_SANDBOXES", 2),
    idleMs: integer(env, "SANDBOX_IDLE_MS", 300_000),
    inFlightPerApp: atLeastOne(env, "APP_MAX_IN_FLIGHT", 128),
    cpuShare: cpuPercent(env) / 100,
    coldStartsPerSecond: atLeastOne(env, "COLD_STARTS_PER_SECOND", 5 * availableParallelism()),
  };
}

/** APP_CPU_PERCENT: 1 to 100. */
function cpuPercent(env: Record<string, string | undefined>): number {
  const percent = atLeastOne(env, "APP_CPU_PERCENT", 50);
  if (percent > 100) throw new ConfigError("APP_CPU_PERCENT must be at most 100");
  return percent;
}

/** APP_HOST_CALLS_PERCENT and HOST_CALLS_PERCENT, as fractions; the total is at least an app's. */
function hostCallShare(env: Record<string, string | undefined>): { perApp: number; total: number } {
  const perApp = percent(env, "APP_HOST_CALLS_PERCENT", 25);
  const total = percent(env, "HOST_CALLS_PERCENT", 50);
  if (total < perApp) {
    throw new ConfigError(
      `HOST_CALLS_PERCENT (${total}) must be at least APP_HOST_CALLS_PERCENT (${perApp}): all ` +
        "apps' share cannot be smaller than one app's",
    );
  }
  return { perApp: perApp / 100, total: total / 100 };
}

/** A whole percentage from 1 to 100. */
function percent(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const value = atLeastOne(env, name, fallback);
  if (value > 100) throw new ConfigError(`${name} must be at most 100`);
  return value;
}

/** DEPLOYMENTS_KEPT: at least 2, the live deployment and the previous one. */
function keptDeployments(env: Record<string, string | undefined>): number {
  const kept = integer(env, "DEPLOYMENTS_KEPT", 20);
  if (kept < 2) {
    throw new ConfigError(
      "DEPLOYMENTS_KEPT must be at least 2: the live deployment and the previous one",
    );
  }
  return kept;
}

/** A whole number of at least 1 (a budget that 0 would turn into an outage). */
function atLeastOne(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
): number {
  const value = integer(env, name, fallback);
  if (value < 1) throw new ConfigError(`${name} must be at least 1`);
  return value;
}

/** PLATFORM_HOST: a host name, lower-cased, without a port; unset or empty is null. */
function platformHost(raw: string | undefined): string | null {
  if (!raw) return null;
  const name = raw.trim().toLowerCase().replace(/:\d+$/, "");
  if (!/^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$/.test(name) || name.includes("..")) {
    throw new ConfigError(
      `PLATFORM_HOST must be a host name like "studio.example.com" (no scheme or path), got "${raw}"`,
    );
  }
  return name;
}

/** The embedded stores' folder when DATA_DIR is unset (relative to the working directory). */
export const DEFAULT_DATA_DIR = ".data";

/**
 * Reads the configuration from `env`; throws ConfigError naming the bad variable. `memory` is what
 * the memory-derived defaults are sized from (default: the cgroup's limit, else RAM).
 */
export function loadConfig(
  env: Record<string, string | undefined>,
  memory: MemoryLimit = memoryLimit(),
): Config {
  const apiKey = env.API_KEY ?? "";
  if (apiKey.length < 16) {
    throw new ConfigError("API_KEY must be set to a secret of at least 16 characters");
  }
  const memoryMb = integer(env, "FUNCTION_MEMORY_MB", 128);
  if (memoryMb < 16) throw new ConfigError("FUNCTION_MEMORY_MB must be at least 16");
  const maxBodyBytes = integer(env, "MAX_BODY_BYTES", 1024 * 1024);
  if (maxBodyBytes > MAX_REQUEST_BYTES_CEILING) {
    throw new ConfigError(
      `MAX_BODY_BYTES must be at most ${MAX_REQUEST_BYTES_CEILING} (8 MB), the largest body ` +
        "the sandbox wire carries",
    );
  }
  return {
    port: integer(env, "PORT", 8000),
    hostname: env.HOST || "0.0.0.0",
    apiKey,
    dataDir: env.DATA_DIR || DEFAULT_DATA_DIR,
    baseDomain: (env.BASE_DOMAIN || "localhost").toLowerCase(),
    platformHost: platformHost(env.PLATFORM_HOST),
    defaultApp: env.DEFAULT_APP || null,
    timeoutMs: integer(env, "FUNCTION_TIMEOUT_MS", 30_000),
    memoryMb,
    sandboxes: sandboxConfig(env, memoryMb, memory),
    maxBodyBytes,
    bodyIdleMs: integer(env, "REQUEST_BODY_TIMEOUT_MS", 10_000),
    trustProxy: trueOrFalse(env, "TRUST_PROXY"),
    bodyBytes: {
      perApp: integer(env, "REQUEST_BODY_BYTES_PER_APP", 32 * 1024 * 1024),
      total: integer(env, "REQUEST_BODY_BYTES_TOTAL", 256 * 1024 * 1024),
    },
    fetches: {
      perApp: integer(env, "OUTBOUND_FETCHES_PER_APP", 256),
      total: integer(env, "OUTBOUND_FETCHES_TOTAL", 4096),
    },
    hostCallShare: hostCallShare(env),
    redis: redisConfig(env),
    logBudgetWindowMs: integer(env, "LOG_BUDGET_WINDOW_MS", 10_000),
    logRetention: integer(env, "LOG_RETENTION_ENTRIES", 10_000),
    kvQuota: {
      maxKeys: integer(env, "KV_MAX_KEYS", 10_000),
      maxBytes: integer(env, "KV_MAX_BYTES", 100 * 1024 * 1024),
    },
    otlp: otlpConfig(env),
    egressRules: egressRules(env.EGRESS_RULES),
    secretsKey: secretsKey(env.SECRETS_KEY, Boolean(env.UPSTASH_REDIS_REST_URL || env.REDIS_URL)),
    syncIntervalMs: integer(env, "SYNC_INTERVAL_MS", env.REDIS_URL ? 5000 : 250),
    maxEnvironments: atLeastOne(env, "MAX_ENVIRONMENTS", 10),
    keepDeployments: keptDeployments(env),
    memory,
    compileMemoryMb: atLeastOne(env, "COMPILE_MEMORY_MB", defaultCompileMemoryMb(memory.bytes)),
  };
}

/**
 * Convergence: how long after a deploy is acknowledged by one instance the others serve it, with
 * INSTANCES (default 10) instances in this process sharing one redis-server, over TCP (pub/sub,
 * REDIS_URL) and over the Upstash REST protocol (polling every 250 ms). Each round deploys a new
 * version on the next instance and calls every other one every 5 ms until it answers that version.
 *
 * BENCH_CONVERGENCE_ROUNDS (default 20) rounds per backend.
 */
import { loadConfig } from "../runtime/platform/config.ts";
import { createPlatform } from "../runtime/platform/platform.ts";
import { createApp } from "../routes/app.ts";
import { startRedisStack } from "../tests/helpers.ts";

const ROUNDS = Number(Deno.env.get("BENCH_CONVERGENCE_ROUNDS") ?? 20);
/** How often a waiting instance is called, in ms: the resolution of the figures. */
const PROBE_MS = 5;
/** A round that has not converged by then is reported as failed, in ms. */
const GIVE_UP_MS = 10_000;
const API_KEY = "bench-admin-key-0123456789";

/** One instance, called in process (no socket), as the load balancer's requests would reach it. */
interface Instance {
  fetch(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

async function startInstance(env: Record<string, string>): Promise<Instance> {
  const dataDir = await Deno.makeTempDir({ prefix: "bench-convergence-" });
  const platform = await createPlatform(
    loadConfig({
      API_KEY,
      SECRETS_KEY: btoa("c".repeat(32)),
      DATA_DIR: dataDir,
      PORT: "0",
      ...env,
    }),
  );
  const app = createApp(platform);
  return {
    fetch: async (path, init) => await app.fetch(new Request(`http://127.0.0.1${path}`, init)),
    async close() {
      await platform.close();
      await Deno.remove(dataDir, { recursive: true });
    },
  };
}

async function deploy(instance: Instance, app: string, version: number): Promise<void> {
  const response = await instance.fetch(`/v1/apps/${app}/deploy`, {
    method: "POST",
    headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({
      source_files: { "api/v.ts": `export default () => ({ body: { v: ${version} } })` },
    }),
  });
  if (response.status !== 201) throw new Error(`deploy failed: ${await response.text()}`);
}

/** Calls `instance` every PROBE_MS until it serves `version`; answers how long that took, in ms. */
async function servedAfter(
  instance: Instance,
  app: string,
  version: number,
  since: number,
): Promise<number> {
  while (performance.now() - since < GIVE_UP_MS) {
    const response = await instance.fetch(`/apps/${app}/functions/v`);
    const body = await response.json().catch(() => null);
    if (body?.v === version) return performance.now() - since;
    await new Promise((resolve) => setTimeout(resolve, PROBE_MS));
  }
  return Infinity;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** Deploys ROUNDS versions round-robin over `instances` and answers every lag measured, sorted. */
async function measureLags(instances: Instance[]): Promise<number[]> {
  const app = `converge-${Date.now().toString(36)}`;
  await deploy(instances[0]!, app, 0);
  await Promise.all(instances.map((i) => servedAfter(i, app, 0, performance.now())));
  const lags: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const origin = instances[round % instances.length]!;
    await deploy(origin, app, round);
    const acknowledged = performance.now();
    const others = instances.filter((i) => i !== origin);
    lags.push(...await Promise.all(others.map((i) => servedAfter(i, app, round, acknowledged))));
  }
  return lags.sort((a, b) => a - b);
}

/**
 * Prints one row per backend: p50, p95 and max of the time from a deploy's 201 on one instance
 * to each of the others serving it, with `count` instances.
 */
export async function convergence(count = Number(Deno.env.get("INSTANCES") ?? 10)): Promise<void> {
  const redis = await startRedisStack();
  console.log(
    `\nconvergence: ${count} instances on one redis-server, ${ROUNDS} deploys, ` +
      `lag from a deploy's 201 on one instance to each other instance serving it\n`,
  );
  console.log(
    "backend".padEnd(38) + "p50 ms".padStart(9) + "p95 ms".padStart(9) + "max ms".padStart(9),
  );
  for (
    const [name, env] of [
      ["Redis over TCP (pub/sub, REDIS_URL)", redis.tcpEnv],
      ["Redis over Upstash REST (poll 250 ms)", redis.env],
    ] as const
  ) {
    const instances: Instance[] = [];
    for (let i = 0; i < count; i++) instances.push(await startInstance(env));
    try {
      const lags = await measureLags(instances);
      console.log(
        name.padEnd(38) + percentile(lags, 0.5).toFixed(1).padStart(9) +
          percentile(lags, 0.95).toFixed(1).padStart(9) + lags.at(-1)!.toFixed(1).padStart(9),
      );
    } finally {
      await Promise.all(instances.map((i) => i.close()));
    }
  }
}

if (import.meta.main) {
  await convergence();
  Deno.exit(0);
}

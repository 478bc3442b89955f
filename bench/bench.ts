/**
 * `deno task bench`: throughput and latency of deployed functions beside a bare `Deno.serve`
 * answering the same JSON, measured in the same run with `wrk` on loopback; then density:
 * many apps on default settings, deployed and called round-robin.
 *
 * BENCH_SECONDS (default 5), BENCH_CONNECTIONS (default 50), BENCH_APPS (default 1000),
 * BENCH_ROUNDS (default 3), BENCH_ONLY (`logs`, `throughput`, `side`, `convergence` or
 * `density`).
 */
import { loadConfig } from "../runtime/platform/config.ts";
import { createPlatform } from "../runtime/platform/platform.ts";
import { createApp } from "../routes/app.ts";
import { startRedisStack } from "../tests/helpers.ts";
import { startCeiling } from "./ceiling.ts";
import { convergence } from "./convergence.ts";
import { density } from "./density.ts";
import { logPath } from "./log_path.ts";
import { type Figures, wrk } from "./wrk.ts";
import { startWorkerd } from "./workerd.ts";
import { sampleProcess, sampleTree } from "../runtime/sandbox/host/proc.ts";

const CONNECTIONS = Number(Deno.env.get("BENCH_CONNECTIONS") ?? 50);
const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 5);
const APPS = Number(Deno.env.get("BENCH_APPS") ?? 1000);
const ONLY = Deno.env.get("BENCH_ONLY") ?? "";
/** The admin key of the benchmark's own platform instances. */
export const BENCH_API_KEY = "bench-admin-key-0123456789";

async function measure(
  name: string,
  url: string,
  rows: Array<[string, Figures]>,
  connections = CONNECTIONS,
): Promise<void> {
  await wrk(url, connections, 1); // warm-up: connections, JIT, caches
  rows.push([name, await wrk(url, connections, SECONDS)]);
  console.error(`measured ${name} (${connections} connections)`);
}

function print(rows: Array<[string, Figures]>, connections: number): void {
  const baseline = rows[0]![1];
  console.log(`\n${connections} connection(s), ${SECONDS} s per scenario, wrk on loopback\n`);
  console.log(
    "scenario".padEnd(34) + "req/s".padStart(10) + "p50 ms".padStart(10) + "p99 ms".padStart(10) +
      "errors".padStart(8) + "  vs baseline",
  );
  for (const [name, f] of rows) {
    console.log(
      name.padEnd(34) + f.rps.toFixed(0).padStart(10) + f.p50.toFixed(2).padStart(10) +
        f.p99.toFixed(2).padStart(10) + String(f.errors).padStart(8) +
        `  ${(f.rps / baseline.rps).toFixed(2)}× req/s, +${
          (f.p50 - baseline.p50).toFixed(2)
        } ms p50`,
    );
  }
}

const FILES = {
  "api/hello.ts": `export default async () => ({ body: { hello: "world" } });`,
  "api/incr.ts": `export default async (ctx) => ({ body: { n: await ctx.kv.incr("n") } });`,
  "api/stream.ts": `export default () => ({ body: (async function* () {
    yield "first";
    await new Promise((r) => setTimeout(r, 50));
    yield "second";
  })() });`,
  "api/counter.ts": `export default async (ctx) => {
    const n = Number(await ctx.kv.get("n") ?? 0) + 1;
    await ctx.kv.set("n", String(n));
    return { body: { n } };
  };`,
};

/** Starts the platform in this process with `env`, deploys the bench app, returns its base URL. */
async function startPlatform(env: Record<string, string>) {
  const dataDir = await Deno.makeTempDir({ prefix: "bench-" });
  const platform = await createPlatform(
    loadConfig({
      API_KEY: BENCH_API_KEY,
      SECRETS_KEY: btoa("b".repeat(32)),
      DATA_DIR: dataDir,
      PORT: "0",
      ...env,
    }),
  );
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    createApp(platform).fetch,
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  const deploy = await fetch(`${base}/v1/apps/bench/deploy`, {
    method: "POST",
    headers: { authorization: `Bearer ${BENCH_API_KEY}` },
    body: JSON.stringify({ source_files: FILES }),
  });
  if (deploy.status !== 201) throw new Error(`deploy failed: ${await deploy.text()}`);
  return {
    url: (path: string) => `${base}/apps/bench/functions${path}`,
    async close() {
      await server.shutdown();
      await platform.close();
      await Deno.remove(dataDir, { recursive: true });
    },
  };
}

/** Time to the first chunk of a streamed response, and to its end, over 200 requests. */
async function firstByte(url: string): Promise<{ p50: number; p99: number; whole: number }> {
  const first: number[] = [];
  const whole: number[] = [];
  for (let i = 0; i < 200; i++) {
    const started = performance.now();
    const response = await fetch(url);
    const reader = response.body!.getReader();
    await reader.read();
    first.push(performance.now() - started);
    while (!(await reader.read()).done) { /* drain */ }
    whole.push(performance.now() - started);
  }
  const at = (values: number[], p: number) =>
    [...values].sort((a, b) => a - b)[Math.floor((p / 100) * (values.length - 1))]!;
  return { p50: at(first, 50), p99: at(first, 99), whole: at(whole, 50) };
}

/** Rounds of the side-by-side comparison; each figure is the median over them. */
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);

/** One measured run, with the host's and the sandboxes' CPU over it, in ms. */
interface Run {
  figures: Figures;
  hostCpuMs?: number;
  sandboxCpuMs?: number;
}

/** The CPU this process used so far, and all its child processes (the sandboxes), in ms. */
async function cpuNow(): Promise<{ host: number; tree: number }> {
  const [host, tree] = await Promise.all([sampleProcess(Deno.pid), sampleTree(Deno.pid)]);
  return { host: host?.cpuMs ?? NaN, tree: tree.cpuMs };
}

/** A warm-up, then a measured run; `cpu` reads the host's CPU over the measured run only. */
async function run(url: string, cpu = false): Promise<Run> {
  await wrk(url, CONNECTIONS, 1);
  const before = cpu ? await cpuNow() : null;
  const figures = await wrk(url, CONNECTIONS, SECONDS);
  if (!before) return { figures };
  const after = await cpuNow();
  const hostCpuMs = after.host - before.host;
  return { figures, hostCpuMs, sandboxCpuMs: after.tree - before.tree - hostCpuMs };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** The median of each figure over the rounds of one scenario. */
function medianRun(runs: Run[]): Run {
  const figures = (key: keyof Figures) => median(runs.map((r) => r.figures[key]));
  const out: Run = {
    figures: { rps: figures("rps"), p50: figures("p50"), p99: figures("p99"), errors: 0 },
  };
  out.figures.errors = runs.reduce((sum, r) => sum + r.figures.errors, 0);
  if (runs[0]?.hostCpuMs !== undefined) {
    // Per request, then the median: rounds of different throughput weigh the same.
    const requests = (r: Run) => r.figures.rps * SECONDS;
    out.hostCpuMs = median(runs.map((r) => r.hostCpuMs! / requests(r)));
    out.sandboxCpuMs = median(runs.map((r) => r.sandboxCpuMs! / requests(r)));
  }
  return out;
}

/**
 * Bare `Deno.serve`, the ceiling, workerd, the hello function and the KV counter, one after
 * another in each of ROUNDS rounds (so a slow moment of the machine hits every row alike), then
 * the medians beside the targets of the thin-host work.
 */
async function sideBySide(): Promise<void> {
  const bare = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    () => Response.json({ hello: "world" }),
  );
  const bareUrl = `http://127.0.0.1:${bare.addr.port}/`;
  const ceiling = await startCeiling();
  const workerd = await startWorkerd();
  const platform = await startPlatform({});
  const scenarios: Array<[string, string, boolean]> = [
    ["bare Deno.serve (baseline)", bareUrl, false],
    ["ceiling: a process hop, no work", ceiling.url, false],
    ...("url" in workerd
      ? [["workerd (Cloudflare)", workerd.url, false] as [string, string, boolean]]
      : []),
    ["hello function", platform.url("/hello"), true],
    ["kv get+set, embedded SQLite", platform.url("/counter"), false],
  ];
  const runs = new Map<string, Run[]>(scenarios.map(([name]) => [name, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, url, cpu] of scenarios) {
      runs.get(name)!.push(await run(url, cpu));
      console.error(`round ${round}: measured ${name}`);
    }
  }
  await platform.close();
  if ("url" in workerd) await workerd.close();
  await ceiling.close();
  await bare.shutdown();

  const rows: Array<[string, Figures]> = [];
  const medians = new Map<string, Run>();
  for (const [name] of scenarios) {
    const m = medianRun(runs.get(name)!);
    medians.set(name, m);
    rows.push([name, m.figures]);
  }
  console.log(`\nmedian of ${ROUNDS} interleaved rounds`);
  print(rows, CONNECTIONS);
  if ("skipped" in workerd) console.log(`workerd row skipped: ${workerd.skipped}`);

  const b = medians.get("bare Deno.serve (baseline)")!.figures;
  const c = medians.get("ceiling: a process hop, no work")!.figures;
  const w = medians.get("workerd (Cloudflare)")?.figures;
  const hello = medians.get("hello function")!;
  const kv = medians.get("kv get+set, embedded SQLite")!.figures;
  const hostUs = hello.hostCpuMs! * 1000;
  // The p99 target compares hello with bare in the same round, then takes the median.
  const bareRuns = runs.get("bare Deno.serve (baseline)")!;
  const p99Over = median(
    runs.get("hello function")!.map((r, i) => r.figures.p99 - bareRuns[i]!.figures.p99),
  );
  const checks: Array<[string, string, boolean | null]> = [
    [
      "hello ≥ 0.28× bare",
      `${(hello.figures.rps / b.rps).toFixed(2)}×`,
      hello.figures.rps >= 0.28 * b.rps,
    ],
    [
      "hello ≥ 1.3× workerd",
      w ? `${(hello.figures.rps / w.rps).toFixed(2)}×` : "no workerd row",
      w ? hello.figures.rps >= 1.3 * w.rps : null,
    ],
    ["kv counter ≥ 0.14× bare", `${(kv.rps / b.rps).toFixed(2)}×`, kv.rps >= 0.14 * b.rps],
    ["host CPU per hello request ≤ 40 µs", `${hostUs.toFixed(1)} µs`, hostUs <= 40],
    [
      "hello p99 ≤ bare p99 + 5 ms",
      `${p99Over >= 0 ? "+" : ""}${p99Over.toFixed(2)} ms, per round`,
      p99Over <= 5,
    ],
  ];
  console.log("\ntarget".padEnd(40) + "measured".padEnd(28) + "met");
  for (const [target, measured, met] of checks) {
    console.log(
      target.padEnd(39) + measured.padEnd(28) + (met === null ? "n/a" : met ? "yes" : "NO"),
    );
  }
  console.log(
    `reported, not gated: hello is ${(hello.figures.rps / c.rps).toFixed(2)}× the ceiling; ` +
      `the sandbox's CPU per hello request ${(hello.sandboxCpuMs! * 1000).toFixed(1)} µs`,
  );
}

async function throughput(): Promise<void> {
  await sideBySide();
  const single: Array<[string, Figures]> = [];
  const rows: Array<[string, Figures]> = [];

  const bare = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    () => Response.json({ hello: "world" }),
  );
  await measure("bare Deno.serve (baseline)", `http://127.0.0.1:${bare.addr.port}/`, single, 1);
  await measure("bare Deno.serve (baseline)", `http://127.0.0.1:${bare.addr.port}/`, rows);
  await bare.shutdown();

  const embedded = await startPlatform({});
  await measure("kv incr, embedded SQLite", embedded.url("/incr"), rows);
  await measure("hello function", embedded.url("/hello"), single, 1);
  await measure("kv get+set, embedded SQLite", embedded.url("/counter"), single, 1);
  const ttfb = await firstByte(embedded.url("/stream"));
  await embedded.close();

  const redis = await startRedisStack();
  const onRedis = await startPlatform(redis.env);
  await measure("kv get+set, Redis (Upstash REST)", onRedis.url("/counter"), rows);
  await measure("kv incr, Redis (Upstash REST)", onRedis.url("/incr"), rows);
  await measure("kv get+set, Redis (Upstash REST)", onRedis.url("/counter"), single, 1);
  await onRedis.close();

  print(rows, CONNECTIONS);
  print(single, 1);
  const p50 = (name: string) => single.find(([n]) => n === name)![1].p50;
  console.log(
    `streamed response (first chunk, then 50 ms, then the rest): time to first byte ` +
      `${ttfb.p50.toFixed(2)} ms p50, ${ttfb.p99.toFixed(2)} ms p99; whole response ` +
      `${ttfb.whole.toFixed(2)} ms p50 (200 requests, one at a time)`,
  );
  for (const backend of ["embedded SQLite", "Redis (Upstash REST)"]) {
    const perCall = (p50(`kv get+set, ${backend}`) - p50("hello function")) / 2;
    console.log(`KV cost per call, ${backend}: ${perCall.toFixed(3)} ms at p50 (one connection)`);
  }
}

if (ONLY === "" || ONLY === "logs") logPath();
if (ONLY === "" || ONLY === "throughput") await throughput();
if (ONLY === "side") await sideBySide();
if (ONLY === "" || ONLY === "convergence") await convergence();
if (ONLY === "" || ONLY === "density") {
  const dataDir = await Deno.makeTempDir({ prefix: "bench-density-" });
  const platform = await createPlatform(
    loadConfig({ API_KEY: BENCH_API_KEY, DATA_DIR: dataDir, PORT: "0" }),
  );
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    createApp(platform).fetch,
  );
  await density(`http://127.0.0.1:${server.addr.port}`, BENCH_API_KEY, APPS, platform);
  await server.shutdown();
  await platform.close();
  await Deno.remove(dataDir, { recursive: true });
}
Deno.exit(0);

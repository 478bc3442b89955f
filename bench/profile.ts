/**
 * `deno task profile`: where the host's CPU goes under load. Starts the platform in this
 * process, deploys a hello function and a KV counter, loads one with `wrk` (50 connections), and
 * prints the CPU per request of the host process, of each of its threads (the main thread, V8's
 * helpers, the request log's writer) and of the sandboxes (from /proc), then, with PROFILE=1,
 * the functions taking the most of the main thread's samples (V8's sampling profiler through
 * `node:inspector`), by self and by inclusive time.
 *
 * PROFILE_PATH (`hello`, the default, or `counter`), PROFILE_SECONDS (default 5), PROFILE=1.
 */
import { Session } from "node:inspector";
import { loadConfig } from "../runtime/platform/config.ts";
import { createPlatform } from "../runtime/platform/platform.ts";
import { createApp } from "../routes/app.ts";
import { sampleProcess, sampleTree } from "../runtime/sandbox/host/proc.ts";
import { wrk } from "./wrk.ts";

const KEY = "bench-admin-key-0123456789";
const SECONDS = Number(Deno.env.get("PROFILE_SECONDS") ?? 5);
const TOP = 30;

/** One node of a V8 CPU profile. */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/**
 * The CPU this process's threads used so far, in ms, by thread name (its tasks' entries in
 * /proc): `main` (the event loop), V8's GC and compiler helpers (`V8 DefaultWorke`), the request
 * log's writer (`worker-N`), and so on; threads of one name are added up.
 */
async function threadsMs(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const task of Deno.readDir("/proc/self/task")) {
    try {
      const stat = await Deno.readTextFile(`/proc/self/task/${task.name}/stat`);
      const name = task.name === String(Deno.pid)
        ? "main"
        : stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) * 10);
    } catch { /* the thread ended meanwhile */ }
  }
  return out;
}

/** CPU readings of the host, its threads and the whole tree, in ms. */
async function cpu(): Promise<{ host: number; threads: Map<string, number>; tree: number }> {
  return {
    host: (await sampleProcess(Deno.pid))?.cpuMs ?? NaN,
    threads: await threadsMs(),
    tree: (await sampleTree(Deno.pid)).cpuMs,
  };
}

function post<T>(session: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) =>
    session.post(
      method,
      params ?? {},
      (error, result) => error ? reject(error) : resolve(result as T),
    )
  );
}

/** Prints the TOP functions by self and inclusive share of the samples. */
function report(profile: { nodes: ProfileNode[]; samples: number[] }): void {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const name = (node: ProfileNode) =>
    `${node.callFrame.functionName || "(anonymous)"} ${
      node.callFrame.url.replace(/^.*\/(registry\.npmjs\.org|main)\//, "")
    }:${node.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const id of profile.samples) {
    const leaf = byId.get(id)!;
    self.set(name(leaf), (self.get(name(leaf)) ?? 0) + 1);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const key = name(byId.get(at)!);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + 1);
    }
  }
  const total = profile.samples.length;
  for (const [title, table] of [["self", self], ["inclusive", inclusive]] as const) {
    console.log(`\n% of main-thread samples, ${title}`);
    const rows = [...table].sort((a, b) => b[1] - a[1]).slice(0, TOP);
    for (const [key, count] of rows) {
      console.log(`${(100 * count / total).toFixed(1).padStart(6)}  ${key}`);
    }
  }
}

const dataDir = await Deno.makeTempDir({ prefix: "profile-" });
const platform = await createPlatform(
  loadConfig({ API_KEY: KEY, SECRETS_KEY: btoa("p".repeat(32)), DATA_DIR: dataDir, PORT: "0" }),
);
const server = Deno.serve(
  { port: 0, hostname: "127.0.0.1", onListen: () => {} },
  createApp(platform).fetch,
);
const base = `http://127.0.0.1:${server.addr.port}`;
const deployed = await fetch(`${base}/v1/apps/profile/deploy`, {
  method: "POST",
  headers: { authorization: `Bearer ${KEY}` },
  body: JSON.stringify({
    source_files: {
      "api/hello.ts": `export default async () => ({ body: { hello: "world" } });`,
      "api/counter.ts": `export default async (ctx) => {
        const n = Number(await ctx.kv.get("n") ?? 0) + 1;
        await ctx.kv.set("n", String(n));
        return { body: { n } };
      };`,
    },
  }),
});
if (deployed.status !== 201) throw new Error(`deploy failed: ${await deployed.text()}`);
const url = `${base}/apps/profile/functions/${Deno.env.get("PROFILE_PATH") ?? "hello"}`;
await wrk(url, 50, 2); // warm-up
const session = new Session();
const profiling = Deno.env.get("PROFILE") === "1";
if (profiling) {
  session.connect();
  await post(session, "Profiler.enable");
  await post(session, "Profiler.setSamplingInterval", { interval: 100 });
  await post(session, "Profiler.start");
}
const before = await cpu();
const figures = await wrk(url, 50, SECONDS);
const after = await cpu();
const requests = figures.rps * SECONDS;
const perRequest = (ms: number) => `${(ms * 1000 / requests).toFixed(1)} µs`;
console.log(
  `${url}: ${
    figures.rps.toFixed(0)
  } req/s, p50 ${figures.p50} ms, p99 ${figures.p99} ms; CPU per ` +
    `request: host ${perRequest(after.host - before.host)}, sandboxes ${
      perRequest(after.tree - before.tree - (after.host - before.host))
    }`,
);
const threads = [...after.threads]
  .map(([name, ms]) => [name, ms - (before.threads.get(name) ?? 0)] as const)
  .filter(([, ms]) => ms > 0)
  .sort((a, b) => b[1] - a[1]);
console.log(
  `the host's threads, CPU per request: ${
    threads.map(([name, ms]) => `${name} ${perRequest(ms)}`).join(", ")
  }`,
);
if (profiling) {
  const { profile } = await post<{ profile: { nodes: ProfileNode[]; samples: number[] } }>(
    session,
    "Profiler.stop",
  );
  session.disconnect();
  report(profile);
}
await server.shutdown();
await platform.close();
await Deno.remove(dataDir, { recursive: true });

/**
 * Compiles deploys off the host's main thread, in a small pool of compile processes: each runs
 * the pre-scan and esbuild for one deploy at a time under a memory, CPU and wall-clock budget,
 * so a tenant's compile bomb costs that tenant's deploy only. At most one deploy per app
 * compiles at a time; later ones of the same app wait their turn, up to a bound, and another
 * app's deploy takes the other process meanwhile. A process killed for a budget is replaced.
 */
import { createRequire } from "node:module";
import { PlatformError } from "../../errors.ts";
import type { CompiledCode } from "../compile.ts";
import { packagesOf } from "../packages.ts";
import { type CompileBudgets, CompileWorker, type WorkerLaunch } from "./worker.ts";

/** Options of a CompilerPool. */
export interface CompilerPoolOptions {
  /** Most compile processes at once (each compiles one deploy at a time). */
  size: number;
  budgets: CompileBudgets;
  /** Most deploys of one app waiting behind the one compiling; past it a deploy is refused 429. */
  maxWaitingPerApp: number;
  /** How often a compiling process's tree is read from /proc, in ms. */
  watchMs: number;
  /** How long a process may stay idle before it is stopped (its memory given back), in ms. */
  idleMs: number;
}

/** A deploy waiting for, or in, a compile process. */
interface Job {
  appId: string;
  files: Record<string, string>;
  resolve: (code: CompiledCode) => void;
  reject: (error: unknown) => void;
}

/** Variables a compile process needs to find Deno's cache (and nothing else of the host's). */
const INHERITED_ENV = ["HOME", "DENO_DIR", "XDG_CACHE_HOME"];
/** A process keeping more than this share of the memory budget at rest is replaced. */
const REST_MEMORY_SHARE = 0.5;

/** The path of esbuild's native binary, as esbuild's own package would find it. */
function esbuildBinary(): string {
  const main = createRequire(import.meta.url).resolve("esbuild");
  const os = Deno.build.os === "windows" ? "win32" : Deno.build.os;
  const arch = ({ x86_64: "x64", aarch64: "arm64" } as Record<string, string>)[Deno.build.arch];
  const file = os === "win32" ? "esbuild.exe" : "bin/esbuild";
  return createRequire(main).resolve(`@esbuild/${os}-${arch}/${file}`);
}

/** The command line of a compile process: minimal permissions, esbuild on one OS thread. */
function launchOf(options: CompilerPoolOptions): WorkerLaunch {
  const binary = esbuildBinary();
  const env: Record<string, string> = {
    NO_COLOR: "1",
    DENO_NO_UPDATE_CHECK: "1",
    // esbuild's Go runtime on one thread: a compile takes one core at most.
    GOMAXPROCS: "1",
    ESBUILD_BINARY_PATH: binary,
    ESBUILD_WORKER_THREADS: "0",
  };
  for (const name of INHERITED_ENV) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return {
    deno: Deno.execPath(),
    args: [
      "run",
      "--no-prompt",
      "--cached-only",
      "--no-remote",
      `--config=${new URL("../../../deno.json", import.meta.url).pathname}`,
      `--v8-flags=--max-old-space-size=${options.budgets.memoryMb}`,
      // esbuild's package checks that its binary exists, then runs it; nothing else is allowed,
      // and the environment it may read is the handful of variables above.
      `--allow-read=${binary}`,
      `--allow-run=${binary}`,
      "--allow-env",
      new URL("./child.ts", import.meta.url).pathname,
    ],
    env,
    budgets: options.budgets,
    watchMs: options.watchMs,
  };
}

/** The compiled code with the packages its deploy bundled (`_packages/`), when it has any. */
function withPackages(code: CompiledCode, files: Record<string, string>): CompiledCode {
  const { packages } = packagesOf(Object.keys(files));
  return Object.keys(packages).length > 0 ? { ...code, packages } : code;
}

/** The compile processes and the deploys waiting for them. */
export class CompilerPool {
  readonly #options: CompilerPoolOptions;
  readonly #launch: WorkerLaunch;
  readonly #workers = new Set<CompileWorker>();
  /** Idle processes, each with the timer that stops it if it stays idle. */
  readonly #idle = new Map<CompileWorker, ReturnType<typeof setTimeout>>();
  readonly #queue: Job[] = [];
  /** Processes stopped for staying idle: not replaced until a deploy needs one. */
  readonly #stoppedIdle = new WeakSet<CompileWorker>();
  /** Apps with a deploy compiling now. */
  readonly #compiling = new Set<string>();
  /** Deploys compiling now, awaited by `close`. */
  readonly #running = new Set<Promise<void>>();
  #closed = false;

  /** Starts no process yet: the first deploy starts one (about 60 ms), a second when needed. */
  constructor(options: CompilerPoolOptions) {
    this.#options = options;
    this.#launch = launchOf(options);
  }

  /**
   * Compiles an app's deploy in a compile process; throws CompileError for the deploy's
   * faults and broken budgets (400), or a `limit` error (429) when `maxWaitingPerApp` deploys
   * of the app already wait.
   */
  compile(appId: string, files: Record<string, string>): Promise<CompiledCode> {
    if (this.#closed) return Promise.reject(closing());
    const waiting = this.#queue.reduce((n, job) => n + (job.appId === appId ? 1 : 0), 0);
    if (waiting >= this.#options.maxWaitingPerApp) {
      return Promise.reject(
        new PlatformError(
          "limit",
          `app "${appId}" already has ${waiting} deploys waiting to compile behind the one ` +
            `compiling (the limit is ${this.#options.maxWaitingPerApp}); retry once they are done`,
          { retryAfterSeconds: 1 },
        ),
      );
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ appId, files, resolve, reject });
      this.#dispatch();
    });
  }

  /** The process ids of the compile processes running now (esbuild's service is below each). */
  pids(): number[] {
    return [...this.#workers].map((worker) => worker.pid);
  }

  /** Refuses waiting deploys, kills every compile process and waits for them to exit. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const job of this.#queue.splice(0)) job.reject(closing());
    for (const timer of this.#idle.values()) clearTimeout(timer);
    this.#idle.clear();
    await Promise.all([...this.#workers].map((worker) => worker.kill(closing())));
    await Promise.all(this.#running);
  }

  /** Starts each waiting deploy whose app has none compiling, while a process is free. */
  #dispatch(): void {
    for (let i = 0; i < this.#queue.length && !this.#closed;) {
      const job = this.#queue[i]!;
      if (this.#compiling.has(job.appId)) {
        i++;
        continue;
      }
      const worker = this.#freeWorker();
      if (!worker) return;
      this.#queue.splice(i, 1);
      const running: Promise<void> = this.#run(worker, job).finally(() =>
        this.#running.delete(running)
      );
      this.#running.add(running);
    }
  }

  /** An idle live process, or a new one while the pool has room; null when all are busy. */
  #freeWorker(): CompileWorker | null {
    for (const [worker, timer] of this.#idle) {
      clearTimeout(timer);
      this.#idle.delete(worker);
      if (worker.alive) return worker;
    }
    return this.#workers.size < this.#options.size ? this.#spawn() : null;
  }

  async #run(worker: CompileWorker, job: Job): Promise<void> {
    this.#compiling.add(job.appId);
    try {
      job.resolve(withPackages(await worker.run(job.files), job.files));
    } catch (error) {
      job.reject(error);
    }
    this.#compiling.delete(job.appId);
    await worker.rest();
    const { memoryMb } = this.#options.budgets;
    if (!worker.alive || this.#closed) {
      // Killed for a budget or by close: its exit removes it.
    } else if (worker.rssAtRest > memoryMb * 1024 * 1024 * REST_MEMORY_SHARE) {
      // A large deploy left esbuild holding memory the next deploy's budget would count.
      await worker.kill(closing());
    } else this.#rest(worker);
    this.#dispatch();
  }

  /** Marks a process idle, to be stopped if no deploy takes it within `idleMs`. */
  #rest(worker: CompileWorker): void {
    const timer = setTimeout(() => {
      this.#idle.delete(worker);
      this.#stoppedIdle.add(worker);
      void worker.kill(closing());
    }, this.#options.idleMs);
    this.#idle.set(worker, timer);
  }

  #spawn(): CompileWorker {
    const worker = new CompileWorker(this.#launch);
    this.#workers.add(worker);
    void worker.closed.then(() => {
      this.#workers.delete(worker);
      // Keep one process warm, so a deploy after a killed one does not wait for a start; not
      // after one stopped for idling, nor one that could not start, which would only fail
      // again (the next deploy tries).
      const replace = worker.ready && !this.#stoppedIdle.has(worker);
      if (!this.#closed && this.#workers.size === 0 && replace) {
        this.#rest(this.#spawn());
      }
      this.#dispatch();
    });
    return worker;
  }
}

function closing(): PlatformError {
  return new PlatformError("unavailable", "the platform is shutting down: deploy again later");
}

/**
 * One compile process as the host sees it: spawned with minimal permissions, sent one deploy
 * at a time, and watched from /proc while it compiles. Past its memory, CPU or time budget the
 * whole process tree (the Deno process and esbuild's service) is killed and the deploy refused.
 */
import { setPriority } from "node:os";
import { PlatformError } from "../../errors.ts";
import { CompileError } from "../diagnostic.ts";
import { BUNDLE, type CompiledCode } from "../compile.ts";
import { type CompileReply, moduleText, type ReadyReply, sourceMapText } from "./protocol.ts";
import { readTree } from "./tree.ts";
import { encodeMessage, MessageReader } from "./wire.ts";

/** What one compile may use, measured over the compile process and all its children. */
export interface CompileBudgets {
  /** Resident memory of the process tree, in MB; also the Deno side's V8 heap cap. */
  memoryMb: number;
  /** CPU time the tree may use on one deploy, in ms. */
  cpuMs: number;
  /** Wall-clock time one deploy may take, in ms. */
  wallMs: number;
  /**
   * How long a new compile process may take to say it is ready before a deploy waiting for it
   * is refused 503 (the platform's failure, not the deploy's), in ms; default START_MS.
   */
  startMs?: number;
}

/** A compile process's start (Deno, esbuild, a warm-up compile) takes well under a second. */
const START_MS = 10_000;

/** How a compile process is started: the command line the pool computed once. */
export interface WorkerLaunch {
  /** The `deno` executable. */
  deno: string;
  /** `deno run` arguments, the entry last. */
  args: string[];
  env: Record<string, string>;
  budgets: CompileBudgets;
  /** How often the tree is read while a deploy compiles, in ms. */
  watchMs: number;
}

const MB = 1024 * 1024;
/** The niceness of compile processes (the host runs at 0): a compile yields the CPU to the host. */
const COMPILE_NICE = 10;

function limitError(message: string): CompileError {
  return new CompileError([{ file: null, line: null, column: null, message }], { limit: true });
}

/** A compile process; `run` one deploy at a time. */
export class CompileWorker {
  readonly #child: Deno.ChildProcess;
  readonly #launch: WorkerLaunch;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reader: MessageReader;
  readonly #readLoop: Promise<void>;
  #nextId = 1;
  /** The deploy being compiled: its id and how to settle it. */
  #job:
    | { id: number; resolve: (code: CompiledCode) => void; reject: (error: unknown) => void }
    | null = null;
  /** Why the host killed the process: the error of the deploy it was compiling. */
  #killedFor: PlatformError | null = null;
  /** The tree's processes below the root at the last reading (esbuild's service). */
  #descendants: number[] | null = null;
  /** Readings of /proc under way, awaited before the worker counts as closed. */
  readonly #readings = new Set<Promise<unknown>>();
  #exited = false;
  /** Whether the process said it is ready: an exit before that is the platform's failure. */
  #ready = false;
  /** Resolves when the process says it is ready. */
  readonly #started: Promise<void>;
  #onStarted: () => void = () => {};
  /** The tree's CPU time when the last deploy ended (its idle baseline), in ms. */
  #cpuAtRest = 0;
  /** Resident memory of the tree when the last deploy ended, in bytes. */
  #rssAtRest = 0;
  /** Settles when the process has exited and its pipes are closed. */
  readonly closed: Promise<void>;

  constructor(launch: WorkerLaunch) {
    this.#launch = launch;
    this.#child = new Deno.Command(launch.deno, {
      args: launch.args,
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
      clearEnv: true,
      env: launch.env,
      cwd: "/",
    }).spawn();
    try {
      // Set before the process starts esbuild's service, which inherits it.
      setPriority(this.#child.pid, COMPILE_NICE);
    } catch { /* it exited already; its exit refuses what it was sent */ }
    this.#started = new Promise((resolve) => this.#onStarted = resolve);
    this.#writer = this.#child.stdin.getWriter();
    this.#reader = new MessageReader(this.#child.stdout);
    this.#readLoop = this.#read();
    this.closed = this.#exit();
  }

  async #exit(): Promise<void> {
    const status = await this.#child.status;
    this.#exited = true;
    await this.#readLoop;
    await this.#writer.close().catch(() => {});
    this.#settleOnExit(status);
  }

  /** The compile process's id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Whether the process started and said so (it may have exited since). */
  get ready(): boolean {
    return this.#ready;
  }

  /** Whether the process is still there to take a deploy. */
  get alive(): boolean {
    return !this.#exited && this.#killedFor === null;
  }

  /** Resident memory of the tree after its last deploy, in bytes (0 before the first). */
  get rssAtRest(): number {
    return this.#rssAtRest;
  }

  /** Compiles `files`; throws CompileError for the deploy's faults and its broken budgets. */
  async run(files: Record<string, string>): Promise<CompiledCode> {
    if (this.#job || !this.alive) throw new Error("the compile worker is busy or gone");
    const id = this.#nextId++;
    const done = new Promise<CompiledCode>((resolve, reject) => {
      this.#job = { id, resolve, reject };
    });
    // Settled by the exit too, possibly while nothing awaits it yet: never an unhandled rejection.
    done.catch(() => {});
    // The process's start (Deno's boot, esbuild's, the warm-up compile) is not the deploy's: it
    // has a deadline of its own (the platform's failure past it), and the deploy's CPU and wall
    // clock count from the process's state once it said it is ready.
    if (!this.#ready) {
      const startMs = this.#launch.budgets.startMs ?? START_MS;
      const stalled = setTimeout(
        () =>
          void this.kill(
            new PlatformError(
              "unavailable",
              `the compile process did not start within ${startMs / 1000} s: the platform ` +
                "cannot compile now; retry later",
            ),
          ),
        startMs,
      );
      await Promise.race([this.#started, this.closed]);
      clearTimeout(stalled);
      // An exit (or a kill) meanwhile has refused the deploy, saying why.
      if (!this.alive) return await done;
      await this.rest();
    }
    const stopWatching = this.#watch(this.#cpuAtRest);
    try {
      await this.#writer.write(encodeMessage({ head: { id }, texts: files }));
      return await done;
    } catch (error) {
      // A write to a process that died fails too: the exit's error says why.
      if (this.#compiling(id)) return await done;
      throw error;
    } finally {
      stopWatching();
    }
  }

  /**
   * Reads the tree after a deploy: the baseline of the next one's CPU time, and the memory it
   * keeps at rest (`rssAtRest`), by which the pool decides whether to reuse it.
   */
  async rest(): Promise<void> {
    if (!this.alive) return;
    // Between deploys the tree is the one the last full reading found: esbuild's service.
    const reading = await this.#readTree(true);
    this.#cpuAtRest = reading.cpuMs;
    this.#rssAtRest = reading.rssBytes;
  }

  /** Kills the process tree and waits for its exit; a deploy it was compiling gets `error`. */
  async kill(error: PlatformError): Promise<void> {
    this.#killedFor ??= error;
    if (!this.#exited) {
      const { descendants } = await this.#readTree();
      for (const pid of [...descendants].reverse().concat(this.pid)) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
    }
    await this.closed;
    await Promise.all(this.#readings);
  }

  /** Whether deploy `id` still waits for its answer. */
  #compiling(id: number): boolean {
    return this.#job?.id === id;
  }

  /** Reads the tree, keeping the reading among those a close waits for. */
  async #readTree(cheap = false) {
    const reading = readTree(this.pid, cheap ? this.#descendants ?? undefined : undefined);
    this.#readings.add(reading);
    try {
      const result = await reading;
      this.#descendants = result.descendants;
      return result;
    } finally {
      this.#readings.delete(reading);
    }
  }

  /**
   * Reads the tree every `watchMs` while a deploy compiles; kills it past a budget. `baseline`:
   * the tree's CPU time, in ms, when the deploy was sent.
   */
  #watch(baseline: number): () => void {
    const { budgets, watchMs } = this.#launch;
    let watching = true;
    let reading = false;
    const wall = setTimeout(
      () =>
        void this.kill(
          limitError(`compiling took over ${budgets.wallMs / 1000} s, the compile time limit`),
        ),
      budgets.wallMs,
    );
    const tick = setInterval(async () => {
      if (reading) return;
      reading = true;
      const { rssBytes, cpuMs } = await this.#readTree();
      reading = false;
      if (!watching) return;
      if (rssBytes > budgets.memoryMb * MB) {
        await this.kill(limitError(
          `compiling used ${Math.round(rssBytes / MB)} MB of memory, over the compile memory ` +
            `limit of ${budgets.memoryMb} MB`,
        ));
      } else if (cpuMs - baseline > budgets.cpuMs) {
        await this.kill(
          limitError(`compiling used over ${budgets.cpuMs / 1000} s of CPU, the compile CPU limit`),
        );
      }
    }, watchMs);
    return () => {
      watching = false;
      clearTimeout(wall);
      clearInterval(tick);
    };
  }

  async #read(): Promise<void> {
    try {
      for (;;) {
        const message = await this.#reader.next<CompileReply | ReadyReply>();
        if (!message) return;
        if ("ready" in message.head) {
          this.#ready = true;
          this.#onStarted();
        } else this.#settle(message.head, message.texts);
      }
    } catch {
      // A broken frame from the compile process: it cannot be trusted with another deploy.
      // Not awaited: the exit it causes waits for this loop to end.
      void this.kill(limitError("the compiler answered out of protocol on this deploy"));
    } finally {
      await this.#reader.cancel();
    }
  }

  #settle(reply: CompileReply, texts: Record<string, string>): void {
    const job = this.#job;
    if (!job || job.id !== reply.id) return;
    this.#job = null;
    if (this.#killedFor && !reply.ok && ("failure" in reply || reply.limit)) {
      // Being killed for a budget: its esbuild service dies first, and the process may answer
      // that it failed, or that the compiler crashed, before it is gone itself. The budget is
      // why (a compile error's own diagnostics, answered in the same moment, still reach the
      // deploy).
      job.reject(this.#killedFor);
    } else if (reply.ok) {
      job.resolve({
        modules: { [BUNDLE]: texts[moduleText(BUNDLE)] ?? "" },
        sourceMaps: { [BUNDLE]: texts[sourceMapText(BUNDLE)] ?? "" },
        routes: reply.routes,
      });
    } else if ("failure" in reply) {
      job.reject(new Error(`the compiler failed: ${reply.failure}`));
    } else {
      job.reject(
        new CompileError(reply.diagnostics, { limit: reply.limit, tooLarge: reply.tooLarge }),
      );
    }
  }

  /** Refuses the deploy the process was compiling when it exited, saying why. */
  #settleOnExit(status: Deno.CommandStatus): void {
    const job = this.#job;
    if (!job) return;
    this.#job = null;
    const exit = status.signal ?? status.code;
    if (!this.#killedFor && !this.#ready) {
      job.reject(
        new PlatformError(
          "unavailable",
          `the compile process exited as it started (exit ${exit}): the platform cannot compile ` +
            "now; retry later",
        ),
      );
      return;
    }
    // V8 aborts with SIGTRAP (exit 133) when the heap cap is reached.
    const heap = status.code === 133 || status.signal === "SIGTRAP";
    const { memoryMb } = this.#launch.budgets;
    job.reject(
      this.#killedFor ??
        limitError(
          heap
            ? `compiling used over ${memoryMb} MB of memory, the compile memory limit`
            : `the compiler crashed on this deploy (exit ${exit})`,
        ),
    );
  }
}

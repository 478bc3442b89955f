/**
 * The sandbox pool: one sandbox process per app, spawned on first use and replaced after a
 * crash. Children reach the host over one Unix socket (net, read and write on that one path are their only permissions) and prove who they are with a token.
 */
import { buildWorkerBootstrap } from "./bootstrap.ts";
import { readFrames } from "./frames.ts";
import { type InvocationHooks, type LoadableDeployment, SandboxProcess } from "./process.ts";
import type { FunctionRequest, FunctionResult, LogLevel } from "./protocol.ts";

/** Settings of the sandbox pool. */
export interface SandboxPoolOptions {
  /** V8 old-space cap per worker isolate, in MB (default 128). */
  memoryMb: number;
  /** How long loading a deployment's modules may take, in ms. */
  loadTimeoutMs: number;
  /** Receives an app's log lines that belong to no request (crashes, errors in timers). */
  onEvent(appId: string, level: LogLevel, message: string): void;
}

const CHILD_ENTRY = new URL("./child.ts", import.meta.url).pathname;

/** Runs every app's code in its own sandbox process. Create with `SandboxPool.create`. */
export class SandboxPool {
  readonly #options: SandboxPoolOptions;
  readonly #bootstrap: string;
  readonly #dir: string;
  readonly #socketPath: string;
  readonly #listener: Deno.Listener;
  readonly #processes = new Map<string, SandboxProcess>();
  readonly #awaitingConnection = new Map<string, SandboxProcess>();

  private constructor(options: SandboxPoolOptions, bootstrap: string, dir: string) {
    this.#options = options;
    this.#bootstrap = bootstrap;
    this.#dir = dir;
    this.#socketPath = `${dir}/sandbox.sock`;
    this.#listener = Deno.listen({ transport: "unix", path: this.#socketPath });
    void this.#accept();
  }

  /** Builds the worker bootstrap and opens the socket children connect to. */
  static async create(options: SandboxPoolOptions): Promise<SandboxPool> {
    const bootstrap = await buildWorkerBootstrap();
    const dir = await Deno.makeTempDir({ prefix: "sandbox-" });
    return new SandboxPool(options, bootstrap, dir);
  }

  /** Loads a deployment of an app into a worker; rejects with LoadError if its modules fail. */
  load(appId: string, deployment: LoadableDeployment): Promise<void> {
    return this.#process(appId).load(deployment);
  }

  /** Terminates a deployment's worker once nothing uses it. */
  unload(appId: string, depId: string): void {
    this.#processes.get(appId)?.unload(depId);
  }

  /** Runs one request of an app; rejects with SandboxFailure when no result comes back. */
  invoke(
    appId: string,
    deployment: LoadableDeployment,
    call: { id: string; file: string; req: FunctionRequest; env: Record<string, string> },
    hooks: InvocationHooks,
    timeoutMs: number,
  ): Promise<FunctionResult> {
    return this.#process(appId).invoke(deployment, call, hooks, timeoutMs);
  }

  /** Number of live sandbox processes (one per app that has run code since its last crash). */
  get size(): number {
    return this.#processes.size;
  }

  /** Number of workers across all sandbox processes (one per loaded deployment). */
  get workers(): number {
    let total = 0;
    for (const process of this.#processes.values()) total += process.workers;
    return total;
  }

  /** Stops every sandbox process and closes the socket. */
  async close(): Promise<void> {
    this.#listener.close();
    await Promise.all([...this.#processes.values()].map((p) => p.close()));
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }

  #process(appId: string): SandboxProcess {
    const existing = this.#processes.get(appId);
    if (existing && !existing.exited) return existing;
    const token = crypto.randomUUID();
    const command = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "--no-config",
        "--unstable-worker-options",
        `--v8-flags=--max-old-space-size=${this.#options.memoryMb}`,
        `--allow-net=unix:${this.#socketPath}`,
        `--allow-read=${this.#socketPath}`,
        `--allow-write=${this.#socketPath}`,
        CHILD_ENTRY,
        this.#socketPath,
        token,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      clearEnv: true,
      env: { NO_COLOR: "1", ...denoDirEnv() },
    });
    const process: SandboxProcess = new SandboxProcess({
      appId,
      command,
      memoryMb: this.#options.memoryMb,
      loadTimeoutMs: this.#options.loadTimeoutMs,
      onEvent: (level, message) => this.#options.onEvent(appId, level, message),
      onExit: () => {
        this.#awaitingConnection.delete(token);
        if (this.#processes.get(appId) === process) this.#processes.delete(appId);
      },
    });
    this.#awaitingConnection.set(token, process);
    this.#processes.set(appId, process);
    return process;
  }

  async #accept(): Promise<void> {
    for await (const conn of this.#listener) {
      void this.#handshake(conn);
    }
  }

  async #handshake(conn: Deno.Conn): Promise<void> {
    const frames = readFrames(conn.readable);
    const first = await frames.next().catch(() => undefined);
    const hello = first?.value as { t?: string; token?: string } | undefined;
    const process = hello?.t === "hello"
      ? this.#awaitingConnection.get(hello.token ?? "")
      : undefined;
    if (!process) {
      conn.close();
      return;
    }
    this.#awaitingConnection.delete(hello!.token!);
    process.connect(conn, frames, this.#bootstrap);
  }
}

/** Keeps the child on the host's module cache, so it starts without downloading or re-transpiling. */
function denoDirEnv(): Record<string, string> {
  const dir = Deno.env.get("DENO_DIR");
  const home = Deno.env.get("HOME");
  const out: Record<string, string> = {};
  if (dir) out.DENO_DIR = dir;
  if (home) out.HOME = home;
  return out;
}

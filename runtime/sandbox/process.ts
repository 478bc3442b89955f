/** The host's handle on one app's sandbox process: spawn, load deployments, invoke, survive its crash. */
import { encodeFrame } from "./frames.ts";
import type {
  Failure,
  FunctionRequest,
  FunctionResult,
  HostMessage,
  LoadFailure,
  LogLevel,
  SandboxMessage,
} from "./protocol.ts";

/** What an invocation may call back into the host for while it runs. */
export interface InvocationHooks {
  /** Performs a `kv.*` or `fetch` call for the handler; a rejection becomes the handler's error. */
  call(op: string, args: unknown[]): Promise<unknown>;
  /** Receives one console line of the handler. */
  log(level: LogLevel, message: string): void;
  /** Counts console lines the worker dropped past the per-request bounds. */
  dropped(entries: number, characters: number): void;
}

/** A deployment as the sandbox needs it: an id and its compiled route modules. */
export interface LoadableDeployment {
  id: string;
  modules: Record<string, string>;
}

/** An invocation that ended without a result; `kind` decides the HTTP status. */
export class SandboxFailure extends Error {
  constructor(readonly failure: Failure | { kind: "timeout"; message: string }) {
    super(failure.message);
    this.name = "SandboxFailure";
  }
}

/** A deployment whose modules failed to load (threw at top level, or exported no function). */
export class LoadError extends Error {
  constructor(readonly failure: LoadFailure) {
    super(failure.message);
    this.name = "LoadError";
  }
}

interface Pending {
  resolve(result: FunctionResult): void;
  reject(error: SandboxFailure): void;
  hooks: InvocationHooks;
  timer: ReturnType<typeof setTimeout>;
}

/** Options for one sandbox process. */
export interface SandboxProcessOptions {
  /** The app whose code this process runs. */
  appId: string;
  /** Command that starts the child, already carrying its socket path and token. */
  command: Deno.Command;
  /** V8 heap cap of each worker, in MB, to name in crash messages. */
  memoryMb: number;
  /** How long loading a deployment may take, in ms. */
  loadTimeoutMs: number;
  /** Receives log lines not tied to a request (crashes, timer errors). */
  onEvent(level: LogLevel, message: string): void;
  /** Called once when the process has exited, for whatever reason. */
  onExit(): void;
}

/** One running sandbox process. Construct with `start`, attach the socket with `connect`. */
export class SandboxProcess {
  readonly #options: SandboxProcessOptions;
  readonly #child: Deno.ChildProcess;
  readonly #pending = new Map<string, Pending>();
  readonly #loads = new Map<string, { promise: Promise<void>; settle?: (e?: LoadError) => void }>();
  readonly #connected: Promise<void>;
  #writer?: WritableStreamDefaultWriter<Uint8Array>;
  #markConnected!: () => void;
  #stderrTail = "";
  #exited = false;

  constructor(options: SandboxProcessOptions) {
    this.#options = options;
    this.#connected = new Promise((resolve) => this.#markConnected = resolve);
    this.#child = options.command.spawn();
    void this.#child.stdout.pipeTo(new WritableStream());
    void this.#readStderr();
    void this.#child.status.then((status) => this.#onExit(status));
  }

  /** Whether the process has exited; a dead process is replaced by the pool. */
  get exited(): boolean {
    return this.#exited;
  }

  /** Number of deployments loaded, each in its own worker. */
  get workers(): number {
    return this.#loads.size;
  }

  /** Attaches the child's socket, sends `init`, and starts reading its messages. */
  connect(conn: Deno.Conn, frames: AsyncGenerator<unknown>, bootstrap: string): void {
    this.#writer = conn.writable.getWriter();
    this.#send({ t: "init", bootstrap });
    this.#markConnected();
    void (async () => {
      try {
        for await (const message of frames) this.#onMessage(message as SandboxMessage);
      } catch { /* the child died mid-frame; #onExit reports it */ }
    })();
  }

  /** Loads a deployment into a worker (once); rejects with LoadError if its code does not load. */
  load(deployment: LoadableDeployment): Promise<void> {
    const existing = this.#loads.get(deployment.id);
    if (existing) return existing.promise;
    const entry: { promise: Promise<void>; settle?: (e?: LoadError) => void } = {
      promise: Promise.resolve(),
    };
    entry.promise = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        entry.settle?.(
          new LoadError({
            file: "",
            message: `loading the deployment took over ${this.#options.loadTimeoutMs} ms ` +
              "(does a module loop or await forever at top level?)",
          }),
        );
      }, this.#options.loadTimeoutMs);
      entry.settle = (error) => {
        clearTimeout(timer);
        entry.settle = undefined;
        if (error) {
          this.#loads.delete(deployment.id);
          this.#send({ t: "unload", dep: deployment.id });
          reject(error);
        } else resolve();
      };
    });
    this.#loads.set(deployment.id, entry);
    void this.#connected.then(() =>
      this.#send({ t: "load", dep: deployment.id, modules: deployment.modules })
    );
    return entry.promise;
  }

  /** Terminates a deployment's worker; call once no request uses it any more. */
  unload(depId: string): void {
    if (this.#loads.delete(depId)) this.#send({ t: "unload", dep: depId });
  }

  /** Runs one request; rejects with SandboxFailure on a throw, a bad result, a timeout or a crash. */
  async invoke(
    deployment: LoadableDeployment,
    call: { id: string; file: string; req: FunctionRequest; env: Record<string, string> },
    hooks: InvocationHooks,
    timeoutMs: number,
  ): Promise<FunctionResult> {
    await this.load(deployment);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(call.id);
        this.#send({ t: "cancel", id: call.id });
        reject(
          new SandboxFailure({
            kind: "timeout",
            message: `the function ran past its time limit of ${timeoutMs} ms`,
          }),
        );
      }, timeoutMs);
      this.#pending.set(call.id, { resolve, reject, hooks, timer });
      this.#send({ t: "invoke", dep: deployment.id, ...call });
    });
  }

  /** Stops the process and fails whatever is still running in it. */
  async close(): Promise<void> {
    if (this.#exited) return;
    try {
      this.#child.kill("SIGKILL");
    } catch { /* already gone */ }
    await this.#child.status;
  }

  #send(message: HostMessage): void {
    if (this.#exited || !this.#writer) return;
    this.#writer.write(encodeFrame(message)).catch(
      () => {/* the child died; #onExit reports it */},
    );
  }

  #settle(id: string): Pending | undefined {
    const pending = this.#pending.get(id);
    if (!pending) return undefined;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    return pending;
  }

  #onMessage(message: SandboxMessage): void {
    switch (message.t) {
      case "loaded":
        this.#loads.get(message.dep)?.settle?.();
        break;
      case "load-failed":
        this.#loads.get(message.dep)?.settle?.(new LoadError(message.error));
        break;
      case "result":
        this.#settle(message.id)?.resolve(message.result);
        break;
      case "failed":
        this.#settle(message.id)?.reject(new SandboxFailure(message.error));
        break;
      case "log": {
        const pending = message.id === null ? undefined : this.#pending.get(message.id);
        if (pending) pending.hooks.log(message.level, message.message);
        else this.#options.onEvent(message.level, message.message);
        break;
      }
      case "log-dropped":
        this.#pending.get(message.id)?.hooks.dropped(message.entries, message.characters);
        break;
      case "call":
        void this.#answerCall(message);
        break;
    }
  }

  async #answerCall(message: Extract<SandboxMessage, { t: "call" }>): Promise<void> {
    const { id, cid } = message;
    const pending = this.#pending.get(id);
    if (!pending) {
      this.#send({ t: "reply", id, cid, ok: false, error: "this request has already ended" });
      return;
    }
    try {
      const value = await pending.hooks.call(message.op, message.args);
      this.#send({ t: "reply", id, cid, ok: true, value });
    } catch (error) {
      this.#send({ t: "reply", id, cid, ok: false, error: (error as Error).message });
    }
  }

  async #readStderr(): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of this.#child.stderr) {
      this.#stderrTail = (this.#stderrTail + decoder.decode(chunk)).slice(-8192);
    }
  }

  #onExit(status: Deno.CommandStatus): void {
    this.#exited = true;
    const outOfMemory = status.code === 133 || /out of memory/i.test(this.#stderrTail);
    const message = outOfMemory
      ? `the function ran out of memory (limit ${this.#options.memoryMb} MB per worker); ` +
        "its sandbox was stopped and will be restarted"
      : `the function's sandbox exited (code ${status.code}${
        status.signal ? `, ${status.signal}` : ""
      })`;
    if (this.#pending.size > 0 || outOfMemory) this.#options.onEvent("error", message);
    for (const id of [...this.#pending.keys()]) {
      this.#settle(id)?.reject(new SandboxFailure({ kind: "crashed", message }));
    }
    for (const entry of this.#loads.values()) {
      entry.settle?.(new LoadError({ file: "", message }));
    }
    this.#markConnected();
    this.#options.onExit();
  }
}

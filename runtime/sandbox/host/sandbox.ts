/**
 * The host's handle on one sandbox process, which runs one deployment: load it,
 * invoke it, stop it for real (SIGKILL, then wait for the exit), and fail what was running in
 * it with the reason the host decided. Nothing the process prints decides what is reported.
 */
import { IdTable } from "../id_table.ts";
import { BudgetRefusal, type HeldShare } from "../../budget.ts";
import { MAX_KV_REPLY_BYTES } from "../../kv/types.ts";
import type { KvTurns } from "../../kv/turns.ts";
import { FETCH_BYTE_COST_MS, type HostTime } from "../../invoke/host_time.ts";
import { type ErrorKind, PlatformError } from "../../errors.ts";
import { setImmediate } from "node:timers";
import { FrameError, FrameReader, FrameWriter, socketSink } from "../frames.ts";
import { CreditedStream, CreditWindow, sendWindowed } from "../streams.ts";
import {
  type Envelope,
  type Failure,
  type FunctionResult,
  type HostMessage,
  type LoadFailure,
  LOG_LEVELS,
  type LogLevel,
  MAX_RESPONSE_BYTES,
  type SandboxMessage,
  type WireRequest,
} from "../protocol.ts";

/** What an invocation may call back into the host for while it runs. */
export interface InvocationHooks {
  /** Performs a `kv.*` or `fetch` call for the handler; a rejection becomes the handler's error. */
  call(
    op: string,
    args: unknown[],
    body: Uint8Array | ReadableStream<Uint8Array> | undefined,
  ): Promise<CallAnswer>;
  /** Receives one console line of the handler. */
  log(level: LogLevel, message: string): void;
  /** Counts console lines the sandbox dropped past the per-request bounds. */
  dropped(entries: number, characters: number): void;
}

/** The answer to a handler's call: a JSON value and optional bytes (a fetch body). */
export interface CallAnswer {
  value: unknown;
  body?: Uint8Array | undefined;
  /**
   * A body that follows the reply as it arrives (a fetch's response), under a stream window;
   * read as it is (one stream layer: each layer of web streams cost about 30 µs a fetch here).
   */
  stream?: ReadableStream<Uint8Array> | undefined;
  /** The most bytes `stream` may bring; past it the sandbox's body is cut with an error. */
  streamLimit?: number | undefined;
  /** Called once `stream` has ended, failed or been cancelled (a fetch gives back its socket). */
  onStreamEnd?: (() => void) | undefined;
}

/** A deployment's compiled code, what a sandbox loads. */
export interface DeploymentCode {
  /** Route file → ES module source. */
  modules: Record<string, string>;
  /** Module name → esbuild source map (JSON text): the sandbox maps its own stacks. */
  sourceMaps: Record<string, string>;
}

/**
 * A deployment as the sandbox needs it: its ids, and where to read its code at each load (the
 * host keeps no deployment's code in memory; it stays on disk or in the store).
 */
export interface LoadableDeployment {
  id: string;
  appId: string;
  environment: string;
  /** Reads the code to load; null when the deployment no longer exists. */
  code(): Promise<DeploymentCode | null>;
}

/** One request for a sandbox: its route file, `ctx.req`, body and `ctx.env`. */
export interface Invocation {
  file: string;
  req: WireRequest;
  /** The request body, raw: the sandbox parses it. */
  bytes?: Uint8Array | undefined;
  env: Record<string, string>;
}

/** What an invocation answered: the result and its body bytes. */
export interface InvocationResult {
  result: FunctionResult;
  body?: Uint8Array | undefined;
  /**
   * Set when the handler left `ctx.waitUntil` work: settles when it is done, or rejects when it
   * ran past the time limit (its sandbox then stopped) or the sandbox died.
   */
  background?: Promise<void> | undefined;
  /** A streamed body (result body type `stream`), fed as the handler produces it. */
  stream?: ReadableStream<Uint8Array> | undefined;
}

/**
 * Why an invocation ended without a result; `kind` decides the HTTP status: `bad-request` 400,
 * `threw` and `bad-result` 500, `timeout` 504, `memory` and `crashed` 502, `stopped` and `busy` 503.
 */
export type FailureKind =
  | Failure["kind"]
  | "timeout"
  | "memory"
  | "crashed"
  | "stopped"
  | "busy";

/** What each way an invocation can fail is, for the caller. */
const FAILURE_KIND: Record<FailureKind, ErrorKind> = {
  threw: "function-failed",
  "bad-result": "function-failed",
  "bad-request": "invalid",
  timeout: "timeout",
  memory: "function-crashed",
  crashed: "function-crashed",
  stopped: "unavailable",
  busy: "unavailable",
};

/** An invocation that ended without a result; `failure` says how. */
export class SandboxFailure extends PlatformError {
  constructor(readonly failure: FailureKind, message: string, readonly userStack?: string) {
    super(FAILURE_KIND[failure], message, {
      retryAfterSeconds: failure === "busy" ? 1 : undefined,
    });
    this.name = "SandboxFailure";
  }
}

/** A deployment whose modules failed to load (threw at top level, exported no function, hung). */
export class LoadError extends PlatformError {
  constructor(readonly failure: LoadFailure) {
    super("function-failed", `the deployment failed to load: ${failure.message}`);
    this.name = "LoadError";
  }
}

/** Why the host stopped a sandbox process. */
export type StopReason =
  | { kind: "timeout"; limitMs: number }
  | { kind: "load-timeout"; limitMs: number }
  | { kind: "memory"; limitMb: number; usedMb: number }
  /** The largest busy sandbox (`usedMb`) while all of them held `totalMb`, over `limitMb`. */
  | { kind: "memory-guard"; usedMb: number; totalMb: number; limitMb: number }
  | { kind: "idle-cpu"; usedMs: number; windowMs: number }
  | { kind: "evicted" | "idle" | "retired" | "closed" };

/**
 * A running invocation. After a result whose handler left `waitUntil` work, it stays pending
 * (its calls and logs still served) and `background` settles when the work is done.
 */
interface Pending {
  /** Its number on the wire, which the sandbox's frames about it carry. */
  id: number;
  /** Its time limit, in ms. */
  timeoutMs: number;
  resolve(result: InvocationResult): void;
  reject(error: SandboxFailure): void;
  background?: { resolve(): void; reject(error: SandboxFailure): void };
  /** The streamed body being fed by `chunk` frames, and how many bytes it has carried. */
  stream?: { body: CreditedStream; bytes: number } | undefined;
  /** Fetch bodies streaming to the handler, by call id: their window and their upstream. */
  fetches?: Map<number, { window: CreditWindow; cancel(reason: string): void }>;
  /** Streamed request bodies of the handler's fetches, by call id, as they arrive. */
  uploads?: Map<number, CreditedStream>;
  hooks: InvocationHooks;
}

/** Options for one sandbox process. */
export interface SandboxOptions {
  /** Starts the child; its stdin receives the token. */
  command: Deno.Command;
  token: string;
  /** V8 heap cap, in MB, to name when the process dies of heap exhaustion. */
  heapMb: number;
  /** Bytes of KV replies queued to the process and not yet written to it, per app and in all. */
  replyBytes: HeldShare;
  /** How many of an app's KV calls the host works on at once (each may build 3 MB). */
  kvTurns: KvTurns;
  /** The apps' shares of the host's time: a KV reply's encoding and fetched bytes are charged here. */
  hostTime: HostTime;
  /** Receives log lines not tied to a running request (timers, crashes, stops). */
  onEvent(sandbox: Sandbox, level: LogLevel, message: string): void;
  /** Called once when the process has exited, with the reason the host stopped it, if it did. */
  onExit(sandbox: Sandbox, reason: StopReason | null, status: Deno.CommandStatus): void;
}

/** Gives back what an answer's unread body holds (a fetch's socket) and cancels the body. */
async function abandonBody(answer: CallAnswer): Promise<void> {
  answer.onStreamEnd?.();
  await answer.stream?.cancel().catch(() => {});
}

/** Longest text taken from a field of a sandbox's message (an error, a file name), in characters. */
const MAX_FIELD_CHARS = 16 * 1024;

/** A string field of a tenant-written message: non-strings become "", long ones are cut. */
function text(value: unknown, limit = MAX_FIELD_CHARS): string {
  if (typeof value !== "string") return "";
  return value.length > limit
    ? `${value.slice(0, limit)}… (${value.length} characters, cut)`
    : value;
}

/** A count field of a tenant-written message. */
function count(value: unknown): number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : 0;
}

/** Bytes queued to a sandbox past which its fetch bodies wait before reading on upstream (1 MB). */
const MAX_QUEUED_FETCH_BYTES = 1024 * 1024;

/** KV operations that answer with stored values (the rest answer with a word or a number). */
const READ_OPS = new Set(["kv.get", "kv.getMany", "kv.list", "kv.keys"]);

/**
 * KV calls of one process the host holds open at once (working or waiting their turn, each up
 * to a 1 MB value): past it the host reads no more of the process's frames until some end.
 */
const MAX_OPEN_KV_CALLS = 256;

/** Why a KV call of `op` was refused by the reply-bytes budget, `refusal` saying its figures. */
function unreadReplies(op: string, refusal: string): string {
  return `${op}: the sandbox has not yet read the KV replies it asked for: ${refusal}`;
}

/** How long a process whose socket closed may take to exit before it is killed, in ms. */
const EXIT_GRACE_MS = 1000;

/** V8 aborts with SIGTRAP (exit 133) when a heap cannot grow past `--max-old-space-size`. */
const HEAP_EXHAUSTED_CODE = 133;

/** One sandbox process. Spawned on construction; usable once `ready` resolves. */
export class Sandbox {
  readonly #options: SandboxOptions;
  readonly #child: Deno.ChildProcess;
  /** Invocations under way, by their number on the wire (not a Map: see id_table.ts). */
  readonly #pending = new IdTable<Pending>();
  /**
   * Deadlines of invocations in start order, from `#deadlineHead` on: when each runs out
   * (performance.now() ms) and its number. Numbers only, no objects: an invocation that has
   * ended is simply no longer in `#pending`. (Entries that pointed to their invocation, kept
   * in a queue that outlives them, held each request's objects through young-generation
   * collections into the old one, as a Map's tables do: id_table.ts.)
   */
  #deadlineAt: number[] = [];
  #deadlineId: number[] = [];
  #deadlineHead = 0;
  #deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #ready: Promise<void>;
  #markReady!: () => void;
  #failReady!: (error: Error) => void;
  #writer?: FrameWriter;
  #load: { settle(error?: LoadError, schedules?: unknown): void } | undefined;
  #stopReason: StopReason | null = null;
  #exited = false;
  /** KV calls read from the process and not yet answered (working, or waiting their turn). */
  #openKvCalls = 0;
  /** Resumes reading the process's frames once its open KV calls are below the figure. */
  #resumeReading: (() => void) | null = null;
  /** The deployment this process runs, once one was loaded into it. */
  deployment: LoadableDeployment | null = null;
  /** What the loaded deployment's modules export as `schedule` (tenant-written, unchecked). */
  schedules: unknown = undefined;
  /** Requests (and a load) under way; a busy sandbox is never evicted. */
  busy = 0;
  /** When it last started or finished work, in performance.now() ms, for LRU and idle eviction. */
  lastUsed = performance.now();
  /** The CPU reading of the previous watchdog sample, for the idle-CPU check. */
  cpu: { atMs: number; cpuMs: number } | null = null;
  /** Resident memory at the last watchdog reading, in bytes; null before the first. */
  rssBytes: number | null = null;
  /** When the watchdog last read it, in performance.now() ms. */
  sampledAt = -Infinity;
  /** CPU time used in all at the last watchdog reading, in ms; null before the first. */
  cpuTotalMs: number | null = null;
  /** The niceness it runs at (the supervisor lowers it for an app past its CPU share). */
  nice = 0;
  /** Resolves once the process has exited. */
  readonly exit: Promise<Deno.CommandStatus>;

  constructor(options: SandboxOptions) {
    this.#options = options;
    this.#ready = new Promise((resolve, reject) => {
      this.#markReady = resolve;
      this.#failReady = reject;
    });
    this.#ready.catch(() => {});
    this.#child = options.command.spawn();
    const stdin = this.#child.stdin.getWriter();
    stdin.write(new TextEncoder().encode(options.token)).then(() => stdin.close()).catch(() => {});
    this.exit = this.#child.status.then((status) => {
      this.#onExit(status);
      return status;
    });
  }

  /** The process id, for /proc readings. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Whether the process has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /** Whether the host has decided to stop it (it may not have exited yet). */
  get stopping(): boolean {
    return this.#stopReason !== null || this.#exited;
  }

  /** Resolves when the process has connected back; rejects if it died first. */
  get ready(): Promise<void> {
    return this.#ready;
  }

  /**
   * Attaches the child's socket: `reader` holds what was read past the hello, `early` the
   * frames that came with it, and `chunks` goes on reading the socket.
   */
  connect(
    conn: Deno.Conn,
    reader: FrameReader,
    chunks: AsyncIterator<Uint8Array>,
    early: Array<Envelope<unknown>>,
  ): void {
    // Under load, frames wait for the next turn of the event loop (a busy HTTP server hands over
    // one request per turn) so that concurrent requests share one write and one wake-up of the
    // child; a lone request goes out at the end of this turn, without the extra hop.
    this.#writer = new FrameWriter(
      socketSink(conn),
      (drain) => this.#pending.size > 1 ? setImmediate(drain) : queueMicrotask(drain),
    );
    this.#markReady();
    void (async () => {
      try {
        for (const frame of early) this.#onMessage(frame.header, frame.body);
        while (true) {
          // Backpressure: while many of its KV calls are open, the process's frames wait in
          // its socket (and its writes then wait), so the host holds a bounded number of calls.
          if (this.#openKvCalls >= MAX_OPEN_KV_CALLS) {
            await new Promise<void>((resolve) => this.#resumeReading = resolve);
          }
          const next = await chunks.next();
          if (next.done) break;
          for (const frame of reader.push(next.value)) this.#onMessage(frame.header, frame.body);
        }
      } catch (error) {
        if (error instanceof FrameError) {
          this.#options.onEvent(
            this,
            "error",
            `the sandbox broke the wire protocol (${error.message}); it was stopped`,
          );
          void this.stop({ kind: "closed" });
        }
      }
      // A process that is dying (a heap abort) closes its socket first: let its exit status
      // speak, and stop it only if it lingers.
      const linger = setTimeout(() => void this.stop({ kind: "closed" }), EXIT_GRACE_MS);
      void this.exit.then(() => clearTimeout(linger));
    })();
  }

  /**
   * Loads `deployment` into the process (then `schedules` holds what its modules export as
   * `schedule`); rejects with LoadError if it fails or takes too long.
   */
  async load(deployment: LoadableDeployment, timeoutMs: number): Promise<void> {
    this.deployment = deployment;
    const code = await deployment.code();
    if (!code || this.#exited) {
      throw new LoadError({
        file: "",
        message: code
          ? "its sandbox exited before the code was loaded"
          : `deployment ${deployment.id} no longer exists`,
      });
    }
    const bytes = new TextEncoder().encode(
      JSON.stringify({ modules: code.modules, sourceMaps: code.sourceMaps }),
    );
    return await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#load?.settle(
          new LoadError({
            file: "",
            message: `loading the deployment took over ${timeoutMs} ms ` +
              "(does a module loop or await forever at top level?); its sandbox was stopped",
          }),
        );
        void this.stop({ kind: "load-timeout", limitMs: timeoutMs });
      }, timeoutMs);
      this.#load = {
        settle: (error, schedules) => {
          clearTimeout(timer);
          this.#load = undefined;
          this.schedules = schedules;
          if (error) reject(error);
          else resolve();
        },
      };
      this.#send({ t: "load", dep: deployment.id }, bytes);
    });
  }

  /** Runs one request; rejects with SandboxFailure on a throw, a bad result, a timeout or a stop. */
  invoke(call: Invocation, hooks: InvocationHooks, timeoutMs: number): Promise<InvocationResult> {
    // Its exit already failed what was running: a late caller would wait for a reply forever.
    if (this.#exited) {
      return Promise.reject(
        new SandboxFailure("stopped", "the sandbox serving this deployment has exited; retry"),
      );
    }
    return new Promise((resolve, reject) => {
      const pending: Pending = { id: 0, timeoutMs, resolve, reject, hooks };
      pending.id = this.#pending.add(pending);
      this.#deadlineAt.push(performance.now() + timeoutMs);
      this.#deadlineId.push(pending.id);
      if (this.#deadlineTimer === undefined) this.#checkDeadlines();
      this.#send(
        { t: "invoke", id: pending.id, file: call.file, req: call.req, env: call.env },
        call.bytes,
      );
    });
  }

  /** Stops the sandbox for `pending`'s timeout, and fails it once the process has exited. */
  async #timeOut(pending: Pending): Promise<void> {
    // A sandbox already being stopped fails every request in it once it has exited, with the
    // reason it was stopped for: that, not this request's own clock, is why it ended.
    if (this.#stopReason !== null) return;
    const { timeoutMs } = pending;
    this.#settle(pending.id);
    // Running JS cannot be interrupted from outside its thread: only ending the process stops
    // it, and the caller hears of the timeout once the process has exited.
    await this.stop({ kind: "timeout", limitMs: timeoutMs });
    if (pending.background) {
      this.#fail(
        pending,
        new SandboxFailure(
          "timeout",
          `work after the response (a stream or ctx.waitUntil) ran past the request's time ` +
            `limit of ${timeoutMs} ms; it was stopped with its sandbox`,
        ),
      );
    } else {
      pending.reject(
        new SandboxFailure("timeout", `the function ran past its time limit of ${timeoutMs} ms`),
      );
    }
  }

  /** Kills the process (SIGKILL) for `reason` and resolves once it has exited. */
  async stop(reason: StopReason): Promise<void> {
    if (!this.#exited) {
      this.#stopReason ??= reason;
      try {
        this.#child.kill("SIGKILL");
      } catch { /* it exited meanwhile */ }
    }
    await this.exit;
  }

  #send(header: HostMessage, body?: Uint8Array): void {
    if (this.#exited || !this.#writer) return;
    this.#writer.send(header, body);
  }

  /**
   * The sandbox sent past a stream's window (an honest runtime never does: it waits for credit):
   * the host does not buffer for it, it stops the sandbox as for any broken frame.
   */
  #windowBroken(what: string): void {
    this.#options.onEvent(
      this,
      "error",
      `the sandbox sent ${what} past its flow-control window; it was stopped`,
    );
    void this.stop({ kind: "closed" });
  }

  /** Stops a request's fetch bodies still streaming, both ways. */
  #closeFetches(pending: Pending): void {
    for (const fetch of pending.fetches?.values() ?? []) {
      fetch.cancel("the request ended before the fetch's body was read");
    }
    for (const upload of pending.uploads?.values() ?? []) {
      upload.end(new Error("the request ended before the fetch's body was sent"));
    }
  }

  /** Fails an invocation: its promise before the result, its stream and background after. */
  #fail(pending: Pending, failure: SandboxFailure): void {
    if (!pending.background) {
      pending.reject(failure);
      return;
    }
    // The client only learns that the body was cut; the reason (tenant text) goes to the logs.
    this.#endStream(
      pending,
      new Error(`the function's streamed response was cut (${failure.failure})`),
    );
    pending.background.reject(failure);
  }

  /** Closes a streamed body (or errors it with `error`); later chunks are ignored. */
  #endStream(pending: Pending, error?: Error): void {
    const stream = pending.stream;
    if (!stream) return;
    pending.stream = undefined;
    stream.body.end(error);
  }

  #settle(id: unknown): Pending | undefined {
    const pending = this.#pending.get(id);
    if (!pending) return undefined;
    this.#pending.delete(id);
    this.#closeFetches(pending);
    this.#dropEnded();
    return pending;
  }

  /**
   * Every invocation of a sandbox has the same time limit, so deadlines come in order: one timer,
   * armed for the oldest invocation still running, serves them all (no timer set and cleared per
   * request). Runs the timeout of an invocation past its deadline, else re-arms.
   */
  #checkDeadlines(): void {
    this.#deadlineTimer = undefined;
    this.#dropEnded();
    const head = this.#deadlineHead;
    if (head >= this.#deadlineAt.length || this.#exited) return;
    const wait = this.#deadlineAt[head]! - performance.now();
    if (wait > 0) {
      this.#deadlineTimer = setTimeout(() => this.#checkDeadlines(), Math.ceil(wait));
      return;
    }
    this.#deadlineHead++;
    const pending = this.#pending.get(this.#deadlineId[head]);
    if (pending) void this.#timeOut(pending);
    this.#checkDeadlines();
  }

  /** Moves the queue's head past invocations that have ended, compacting it now and then. */
  #dropEnded(): void {
    const ids = this.#deadlineId;
    while (this.#deadlineHead < ids.length && !this.#pending.get(ids[this.#deadlineHead])) {
      this.#deadlineHead++;
    }
    const head = this.#deadlineHead;
    if (head > 1024 && head * 2 > ids.length) {
      this.#deadlineAt = this.#deadlineAt.slice(head);
      this.#deadlineId = ids.slice(head);
      this.#deadlineHead = 0;
    }
  }

  /**
   * Handles one frame. Everything in it was written by code the tenant controls, so each field
   * is checked, and a frame that fails is reported and skipped: it cannot end the channel.
   */
  #onMessage(raw: unknown, body: Uint8Array | undefined): void {
    try {
      this.#dispatch(raw as SandboxMessage, body);
    } catch (error) {
      this.#options.onEvent(
        this,
        "warn",
        `the sandbox sent a malformed message, which was ignored: ${(error as Error).message}`,
      );
    }
  }

  #dispatch(message: SandboxMessage, body: Uint8Array | undefined): void {
    switch (message?.t) {
      case "loaded":
        this.#load?.settle(undefined, message.schedules);
        break;
      case "load-failed":
        this.#load?.settle(
          new LoadError({
            file: text(message.error?.file),
            message: text(message.error?.message),
            stack: text(message.error?.stack),
          }),
        );
        break;
      case "result": {
        const id = count(message.id);
        if (message.open !== true) {
          this.#settle(id)?.resolve({ result: message.result, body });
          break;
        }
        const pending = this.#pending.get(id);
        if (!pending || pending.background) break;
        const background = new Promise<void>((resolve, reject) => {
          pending.background = { resolve, reject };
        });
        background.catch(() => {});
        let stream: ReadableStream<Uint8Array> | undefined;
        if (message.result?.body?.type === "stream") {
          // The sandbox sends a window ahead; the client's reads grant it more.
          const body = new CreditedStream(
            (bytes) => this.#send({ t: "credit", id, bytes }),
            () => this.#send({ t: "cancel", id }),
          );
          pending.stream = { body, bytes: 0 };
          stream = body.readable;
        }
        pending.resolve({ result: message.result, body, background, stream });
        break;
      }
      case "chunk": {
        const pending = this.#pending.get(message.id);
        const stream = pending?.stream;
        if (!stream || !body) break;
        stream.bytes += body.length;
        if (stream.bytes > MAX_RESPONSE_BYTES) {
          this.#endStream(
            pending,
            new Error(`the streamed response passed ${MAX_RESPONSE_BYTES} bytes`),
          );
          break;
        }
        if (!stream.body.push(body.slice())) this.#windowBroken("its streamed response");
        break;
      }
      case "end": {
        const pending = this.#pending.get(message.id);
        if (pending) this.#endStream(pending);
        break;
      }
      case "done": {
        const pending = this.#settle(message.id);
        if (pending) this.#endStream(pending);
        pending?.background?.resolve();
        break;
      }
      case "failed": {
        const reported = message.error?.kind;
        const kind = reported === "bad-result" || reported === "bad-request" ? reported : "threw";
        const stack = typeof message.error?.stack === "string"
          ? text(message.error.stack)
          : undefined;
        const pending = this.#settle(message.id);
        const failure = new SandboxFailure(kind, text(message.error?.message), stack);
        if (pending) this.#fail(pending, failure);
        break;
      }
      case "log": {
        const level = LOG_LEVELS.includes(message.level) ? message.level : "info";
        const pending = this.#pending.get(message.id);
        if (pending) pending.hooks.log(level, text(message.message, Infinity));
        else this.#options.onEvent(this, level, text(message.message, Infinity));
        break;
      }
      case "log-dropped":
        this.#pending.get(message.id)?.hooks.dropped(
          count(message.entries),
          count(message.characters),
        );
        break;
      case "fetch-credit":
        this.#pending.get(message.id)?.fetches?.get(message.cid)?.window.grant(
          count(message.bytes),
        );
        break;
      case "fetch-cancel":
        this.#pending.get(message.id)?.fetches?.get(message.cid)?.cancel("cancelled");
        break;
      case "call": {
        if (!Number.isSafeInteger(message.cid) || !Array.isArray(message.args)) {
          throw new Error("a call without a call id or arguments");
        }
        const id = count(message.id);
        const upload = message.op === "fetch" &&
            (message.args[0] as { streamed?: unknown } | null)?.streamed === true
          ? this.#openUpload(id, message.cid)
          : undefined;
        void this.#answerCall({ ...message, id, op: text(message.op) }, upload ?? body);
        break;
      }
      case "fetch-body": {
        const upload = this.#pending.get(message.id)?.uploads?.get(message.cid);
        if (upload && body && !upload.push(body.slice())) {
          this.#windowBroken("a fetch's streamed request body");
        }
        break;
      }
      case "fetch-body-end": {
        const pending = this.#pending.get(message.id);
        const upload = pending?.uploads?.get(message.cid);
        pending?.uploads?.delete(message.cid);
        upload?.end(
          typeof message.error === "string" ? new Error(text(message.error)) : undefined,
        );
        break;
      }
    }
  }

  async #answerCall(
    message: Extract<SandboxMessage, { t: "call" }>,
    body: Uint8Array | ReadableStream<Uint8Array> | undefined,
  ): Promise<void> {
    const { id, cid } = message;
    const pending = this.#pending.get(id);
    if (!pending) {
      this.#send({ t: "reply", id, cid, ok: false, error: "this request has already ended" });
      return;
    }
    const kv = message.op.startsWith("kv.");
    const appId = this.deployment?.appId;
    // Reads answer with what the store holds (up to 3 MB); writes with a word, and a write
    // that happened must never be reported as refused, so only reads are held to the budget.
    const read = kv && READ_OPS.has(message.op);
    if (kv) this.#openKvCalls++;
    let answer: CallAnswer | undefined;
    try {
      const call = () => {
        // Waited its turn: the request may be gone (a timeout, a stop) and nobody would read.
        if (this.#pending.get(id) !== pending) throw new Error("this request has already ended");
        // A reply is worked out only if one as large as a KV reply may be would still be held.
        if (read && appId) {
          try {
            this.#options.replyBytes.check(appId, MAX_KV_REPLY_BYTES);
          } catch (error) {
            throw new Error(unreadReplies(message.op, (error as Error).message));
          }
        }
        return pending.hooks.call(message.op, message.args, body);
      };
      // A fetch waits for the app's host time inside the runner's hook, once the fetch budgets
      // are taken: a fetch parked here would hold its body uncounted.
      answer = kv && appId ? await this.#options.kvTurns.run(appId, call) : await call();
      if (this.#pending.get(id) !== pending) {
        // The request ended while its fetch was under way: nobody will read the body.
        await abandonBody(answer);
        return;
      }
      const reply = { t: "reply", id, cid, ok: true, value: answer.value ?? null } as const;
      const encoding = kv && appId ? performance.now() : 0;
      if (read) this.#sendHeld(reply, message.op);
      else this.#send(reply, answer.body);
      // A read's reply (up to 3 MB of JSON) is host time the app's KV share pays for.
      if (kv && appId) this.#options.hostTime.charge(appId, performance.now() - encoding);
      if (answer.stream) void this.#pumpFetch(pending, id, cid, answer);
    } catch (error) {
      // A fetch that answered but whose reply could not be sent: its body will not be read.
      if (answer) void abandonBody(answer);
      this.#send({ t: "reply", id, cid, ok: false, error: (error as Error).message });
    } finally {
      if (kv) this.#kvCallDone();
    }
  }

  /** One KV call fewer open: reading the process's frames resumes below the figure. */
  #kvCallDone(): void {
    this.#openKvCalls--;
    if (this.#openKvCalls < MAX_OPEN_KV_CALLS) {
      const resume = this.#resumeReading;
      this.#resumeReading = null;
      resume?.();
    }
  }

  /**
   * Queues a KV reply against the app's reply-bytes budget, held until it is written to the
   * process; past the budget the call is answered with the refusal instead.
   */
  #sendHeld(reply: HostMessage & { id: number; cid: number }, op: string): void {
    const share = this.#options.replyBytes;
    const appId = this.deployment?.appId;
    if (this.#exited || !this.#writer || !appId) {
      this.#send(reply);
      return;
    }
    let refusal = "";
    const sent = this.#writer.trySend(reply, undefined, (bytes) => {
      try {
        share.take(appId, bytes);
      } catch (error) {
        if (!(error instanceof BudgetRefusal)) throw error;
        refusal = error.message;
        return null;
      }
      return () => share.release(appId, bytes);
    });
    if (!sent) {
      this.#send({
        t: "reply",
        id: reply.id,
        cid: reply.cid,
        ok: false,
        error: unreadReplies(op, refusal),
      });
    }
  }

  /**
   * The stream a fetch's streamed request body arrives on, made as its call arrives (its chunks
   * follow in the same batch of frames); what the upstream reads is granted back as credit.
   */
  #openUpload(id: number, cid: number): ReadableStream<Uint8Array> | undefined {
    const pending = this.#pending.get(id);
    if (!pending) return undefined;
    const upload = new CreditedStream(
      (bytes) => this.#send({ t: "fetch-body-credit", id, cid, bytes }),
      () => this.#send({ t: "fetch-body-cancel", id, cid }),
    );
    pending.uploads ??= new Map();
    pending.uploads.set(cid, upload);
    return upload.readable;
  }

  /**
   * Sends a fetch's body to the handler as it arrives, never more than a window ahead of what
   * the handler read: a handler that stops reading stops the upstream (TCP backpressure), and
   * the host holds at most one upstream chunk of it.
   */
  async #pumpFetch(pending: Pending, id: number, cid: number, answer: CallAnswer): Promise<void> {
    const reader = answer.stream!.getReader();
    const limit = answer.streamLimit ?? Infinity;
    let bytes = 0;
    const window = new CreditWindow();
    let ended: string | null = null;
    const cancel = (reason: string) => {
      ended ??= reason;
      window.close();
      reader.cancel().catch(() => {});
    };
    pending.fetches ??= new Map();
    pending.fetches.set(cid, { window, cancel });
    try {
      while (ended === null) {
        // The window is the sandbox's word that it read; the host's own queue to its socket is
        // checked too, so credit it grants without reading never piles bytes up here.
        await this.#writer?.whenBelow(MAX_QUEUED_FETCH_BYTES);
        const { done, value } = await reader.read();
        if (done) break;
        bytes += value.length;
        const appId = this.deployment?.appId;
        if (appId) this.#options.hostTime.charge(appId, value.length * FETCH_BYTE_COST_MS);
        if (bytes > limit) {
          cancel(`fetch: the response body is over the limit of ${limit} bytes`);
          break;
        }
        await sendWindowed(
          window,
          value,
          (piece) => this.#send({ t: "fetch-chunk", id, cid }, piece),
        );
      }
      if (ended === null) this.#send({ t: "fetch-end", id, cid });
      else if (ended !== "cancelled") this.#send({ t: "fetch-end", id, cid, error: ended });
    } catch (error) {
      this.#send({ t: "fetch-end", id, cid, error: `fetch: ${(error as Error).message}` });
    } finally {
      pending.fetches.delete(cid);
      answer.onStreamEnd?.();
    }
  }

  /** What the requests still running get, and what the log says, when the process ends. */
  #exitFailure(status: Deno.CommandStatus): { failure: SandboxFailure; event?: string } {
    const reason = this.#stopReason;
    if (reason?.kind === "memory") {
      const message = `the function ran out of memory: its sandbox used ${reason.usedMb} MB, ` +
        `over the limit of ${reason.limitMb} MB per sandbox; it was stopped`;
      return { failure: new SandboxFailure("memory", message), event: message };
    }
    if (reason?.kind === "memory-guard") {
      const message = `the platform's sandboxes together held ${reason.totalMb} MB, over their ` +
        `budget of ${reason.limitMb} MB (SANDBOX_MEMORY_TOTAL_MB); this sandbox, the largest ` +
        `busy one (${reason.usedMb} MB), was stopped`;
      return { failure: new SandboxFailure("memory", message), event: message };
    }
    if (reason?.kind === "timeout") {
      return {
        failure: new SandboxFailure(
          "stopped",
          "this request was stopped with its sandbox: another request to the same deployment " +
            `ran past its time limit of ${reason.limitMs} ms`,
        ),
        event: `a request ran past its time limit of ${reason.limitMs} ms: its sandbox was ` +
          "stopped (SIGKILL) and will be replaced",
      };
    }
    if (reason?.kind === "idle-cpu") {
      const message = `code kept running with no request in flight (${reason.usedMs} ms of CPU ` +
        `in ${reason.windowMs} ms): its sandbox was stopped (SIGKILL) and will be replaced`;
      return { failure: new SandboxFailure("stopped", message), event: message };
    }
    if (reason) {
      return {
        failure: new SandboxFailure(
          "stopped",
          `the function's sandbox was stopped (${reason.kind}) while this request ran`,
        ),
      };
    }
    if (status.code === HEAP_EXHAUSTED_CODE) {
      const message = `the function ran out of memory (heap limit ${this.#options.heapMb} MB ` +
        "per sandbox); its sandbox was stopped and will be replaced";
      return { failure: new SandboxFailure("memory", message), event: message };
    }
    const message = `the function's sandbox exited unexpectedly (code ${status.code}${
      status.signal ? `, ${status.signal}` : ""
    })`;
    return { failure: new SandboxFailure("crashed", message), event: message };
  }

  #onExit(status: Deno.CommandStatus): void {
    this.#exited = true;
    clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = undefined;
    this.#failReady(new Error(`the sandbox process exited before it connected`));
    const { failure, event } = this.#exitFailure(status);
    const quiet = ["closed", "evicted", "idle", "retired"].includes(this.#stopReason?.kind ?? "");
    if (event && !quiet && (this.deployment || this.#pending.size > 0)) {
      this.#options.onEvent(this, "error", event);
    }
    for (const id of this.#pending.ids()) {
      const pending = this.#settle(id);
      if (pending) this.#fail(pending, failure);
    }
    this.#load?.settle(new LoadError({ file: "", message: failure.message }));
    this.#options.onExit(this, this.#stopReason, status);
  }
}

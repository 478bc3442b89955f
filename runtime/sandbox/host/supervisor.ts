/**
 * The sandbox supervisor: owns every sandbox process and bounds them. Each live deployment
 * (so each app environment, plus an old deployment while its last requests finish) runs in a
 * process of its own, taken from a few pre-started spares. The supervisor caps how many run
 * at once (evicting the least recently used idle one), evicts idle ones, and every
 * `watchIntervalMs` reads each process's memory and CPU from /proc: past the memory cap, or
 * burning CPU with no request in flight, it is killed. Children connect back over one Unix
 * socket and prove who they are with a token written to their stdin.
 */
import { availableParallelism, setPriority } from "node:os";
import { FrameReader, socketChunks } from "../frames.ts";
import type { Envelope, LogLevel, SandboxMessage } from "../protocol.ts";
import { writeSandboxEntry } from "./bundle.ts";
import { processStartTicks, sampleProcess, threadIds } from "./proc.ts";
import { AppCpu, type CpuLimits } from "./cpu.ts";
import { type ColdStartLimits, ColdStarts } from "./cold.ts";
import { AppShares, type ShareLimits, shareLimits } from "./shares.ts";
import { BudgetRefusal, type HeldShare } from "../../budget.ts";
import type { KvTurns } from "../../kv/turns.ts";
import type { HostTime } from "../../invoke/host_time.ts";
import { bytesOf, heldBy, mb, type MemoryLimits, memoryLimits, overBudget } from "./memory.ts";
import {
  type Invocation,
  type InvocationHooks,
  type InvocationResult,
  type LoadableDeployment,
  Sandbox,
  SandboxFailure,
  type StopReason,
} from "./sandbox.ts";

/** Settings of the supervisor (see README "Sandboxes"). */
export interface SupervisorOptions {
  /** V8 heap cap per sandbox, in MB (FUNCTION_MEMORY_MB). */
  heapMb: number;
  /** Cap on everything a sandbox process holds (resident memory), in MB (SANDBOX_MEMORY_MB). */
  memoryMb: number;
  /** Resident memory of all sandboxes together, in MB (SANDBOX_MEMORY_TOTAL_MB; see memory.ts). */
  memoryTotalMb: number;
  /** Most sandbox processes serving deployments at once (MAX_SANDBOXES). */
  maxSandboxes: number;
  /** Most requests of one app in flight at once, across its environments (APP_MAX_IN_FLIGHT). */
  inFlightPerApp: number;
  /**
   * The part of the machine's CPU one app's sandboxes may use over a second before they run at
   * the lowest priority, 0–1 (APP_CPU_PERCENT / 100; see cpu.ts).
   */
  cpuShare: number;
  /** Cold starts admitted a second, across apps, deploy warm-ups aside (COLD_STARTS_PER_SECOND). */
  coldStartsPerSecond: number;
  /** Pre-started processes kept ready for cold deployments (SPARE_SANDBOXES). */
  spares: number;
  /** A sandbox with no request for this long is stopped, in ms (SANDBOX_IDLE_MS). */
  idleMs: number;
  /** How long loading a deployment's modules may take, in ms. */
  loadTimeoutMs: number;
  /** How long a request waits for a sandbox slot when every one is busy, in ms. */
  acquireWaitMs: number;
  /** How often memory and CPU of busy sandboxes are read, in ms (idle ones: a tenth as often). */
  watchIntervalMs: number;
  /** A sandbox with no request in flight that uses more CPU than this over `idleCpuWindowMs` is killed, in ms. */
  idleCpuMs: number;
  /** The window of the idle-CPU check, in ms. */
  idleCpuWindowMs: number;
  /**
   * Bytes of KV replies queued to sandboxes but not yet taken by them, per app and in all: a
   * sandbox that stops reading cannot make the host hold its answers (README "Budgets").
   */
  replyBytes: HeldShare;
  /** How many of an app's KV calls the host works on at once; the others wait their turn. */
  kvTurns: KvTurns;
  /** The apps' shares of the host's time for KV and fetch calls. */
  hostTime: HostTime;
  /** Receives an app's log lines that belong to no request (timers, stops, crashes). */
  onEvent(appId: string, environment: string, level: LogLevel, message: string): void;
}

/** How one invocation gets its sandbox. */
export interface InvokeOptions {
  /**
   * Whether to wait (up to `acquireWaitMs`) when the app's share or every slot is busy; false
   * refuses at once (a cron run: a tick that finds its app's share full is skipped, not queued).
   */
  queue?: boolean;
}

/** How `#acquire` admits: a deploy warm-up (bounded only by MAX_SANDBOXES), and whether it waits. */
interface AcquireMode {
  warmUp: boolean;
  queue: boolean;
}

const WARM_UP: AcquireMode = { warmUp: true, queue: true };

/** A cold start's turn, once taken: `end` gives it back. */
interface ColdStartTurn {
  end?: () => void;
}

/** Where getting a sandbox took time, in ms: waiting for a slot, and starting the deployment. */
export interface AcquireTiming {
  queueMs?: number;
  sandboxMs?: number;
}

/** Counters of what the supervisor did, since start. */
export interface SupervisorStats {
  /** Processes serving a deployment now. */
  live: number;
  /** Pre-started processes waiting for a deployment. */
  spares: number;
  /** Deployments loaded into a process (each a cold start). */
  coldStarts: number;
  /**
   * Processes ended, by reason: the host's (`timeout`, `load-timeout`, `memory`, `idle-cpu`,
   * `evicted`, `idle`, `retired`, `closed`), or `heap` (V8's heap cap) and `crashed`.
   */
  stops: Record<string, number>;
  /** Requests refused because every sandbox was busy. */
  refusedBusy: number;
  /**
   * Requests refused by an app's share: its slots, its memory, its requests in flight, or the
   * slots for functions.
   */
  refusedShare: number;
  /** Resident memory of every sandbox at its last reading (unread ones estimated), in bytes. */
  memoryBytes: number;
}

const HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * Idle sandboxes not used since their last reading (and spares) are read every this many ticks:
 * they run no request, so their memory barely moves, and with hundreds held warm reading each one
 * every tick is most of the watchdog's cost. Busy ones, and idle ones used since their last
 * reading, are read every tick.
 */
const IDLE_READ_EVERY = 10;
/** The niceness of sandbox processes (the host runs at 0): they yield the CPU to the host. */
const SANDBOX_NICE = 10;
/** The niceness of an app's sandboxes while it is past its CPU share: every other app comes first. */
const THROTTLED_NICE = 19;
/** The window an app's CPU share is measured over, in ms. */
const CPU_WINDOW_MS = 1000;
/** An app's CPU throttling is logged at most once per this, in ms, with a count. */
const CPU_LOG_EVERY_MS = 60_000;

/**
 * `deno run` flags that keep a sandbox process from resolving anything but its own script: no
 * config or lock file, no npm or remote modules, nothing fetched.
 */
export const NO_RESOLUTION_FLAGS = [
  "--no-config",
  "--no-lock",
  "--no-npm",
  "--no-remote",
  "--cached-only",
] as const;

/** The prefix of the supervisors' temp folders. */
const TEMP_PREFIX = "sandbox-";
/** The file of a temp folder that names its owner: `<pid> <start ticks>`. */
const OWNER_FILE = "owner";

/** What identifies process `pid` (its id and start time), or null when it is gone. */
async function ownerRecord(pid: number): Promise<string | null> {
  const ticks = await processStartTicks(pid);
  return ticks === null ? null : `${pid} ${ticks}`;
}

/** Removes the supervisor folders under `tempDir` whose recorded owner process is gone. */
async function removeOrphanFolders(tempDir: string): Promise<void> {
  try {
    for await (const entry of Deno.readDir(tempDir)) {
      if (!entry.isDirectory || !entry.name.startsWith(TEMP_PREFIX)) continue;
      const folder = `${tempDir}/${entry.name}`;
      const recorded = (await Deno.readTextFile(`${folder}/${OWNER_FILE}`).catch(() => "")).trim();
      const pid = Number(recorded.split(" ")[0]);
      // No record (being created, or made by an older version): not ours to judge.
      if (!recorded || !Number.isSafeInteger(pid)) continue;
      if (await ownerRecord(pid) === recorded) continue;
      await Deno.remove(folder, { recursive: true }).catch(() => {});
    }
  } catch { /* an unreadable temp directory: nothing to sweep */ }
}

/** Owns and bounds the sandbox processes. Create with `Supervisor.create`. */
export class Supervisor {
  readonly #options: SupervisorOptions;
  readonly #dir: string;
  readonly #entry: string;
  readonly #socketPath: string;
  readonly #listener: Deno.Listener;
  /**
   * Deployment id → its sandbox. Recency is each sandbox's `lastUsed`, not this Map's order:
   * moving an entry to the end at every request rebuilt the Map's table every few requests.
   */
  readonly #live = new Map<string, Sandbox>();
  /** Deployment id → the start of its sandbox, while one is being loaded. */
  readonly #starting = new Map<string, Promise<Sandbox>>();
  readonly #released = new Set<string>();
  readonly #spares: Sandbox[] = [];
  readonly #awaitingHello = new Map<string, Sandbox>();
  readonly #waiters = new Set<() => void>();
  readonly #shares: AppShares;
  readonly #memory: MemoryLimits;
  readonly #cpu: AppCpu;
  readonly #coldStarts: ColdStarts;
  /** App id → when its CPU throttling was last logged, and how often it began since. */
  readonly #cpuLogged = new Map<string, { atMs: number; count: number }>();
  /** App id → its warm-up under way: one per app at a time, so one app takes one reserved slot. */
  readonly #warmUps = new Map<string, Promise<void>>();
  readonly #watch: ReturnType<typeof setInterval>;
  #reserved = 0;
  #watching = false;
  #closed = false;
  readonly #stats: SupervisorStats = {
    live: 0,
    spares: 0,
    coldStarts: 0,
    stops: {},
    refusedBusy: 0,
    refusedShare: 0,
    memoryBytes: 0,
  };

  private constructor(options: SupervisorOptions, dir: string, entry: string) {
    this.#options = options;
    this.#dir = dir;
    this.#entry = entry;
    this.#socketPath = `${dir}/sandbox.sock`;
    this.#shares = new AppShares(shareLimits(options.maxSandboxes, options.inFlightPerApp));
    this.#memory = memoryLimits(options.memoryTotalMb, options.memoryMb);
    this.#coldStarts = new ColdStarts({
      perSecond: options.coldStartsPerSecond,
      burst: Math.max(1, Math.ceil(options.coldStartsPerSecond / 2)),
      concurrent: Math.max(1, Math.floor(availableParallelism() / 2)),
    });
    this.#cpu = new AppCpu({
      cores: availableParallelism(),
      perAppShare: options.cpuShare,
      windowMs: CPU_WINDOW_MS,
    });
    this.#listener = Deno.listen({ transport: "unix", path: this.#socketPath });
    void this.#accept();
    this.#watch = setInterval(() => void this.#tick(), options.watchIntervalMs);
    this.#replenish();
  }

  /**
   * Bundles the sandbox entry, opens the socket children connect to, and starts the spares. The
   * temp folder records its owner (this process), and folders of owners that are gone (a server
   * killed before it could remove its own) are removed; several instances may share the temp
   * directory, so a folder whose owner still runs, or that records none, is left alone.
   */
  static async create(options: SupervisorOptions): Promise<Supervisor> {
    const dir = await Deno.makeTempDir({ prefix: TEMP_PREFIX });
    await Deno.writeTextFile(`${dir}/${OWNER_FILE}`, await ownerRecord(Deno.pid) ?? "");
    await removeOrphanFolders(dir.slice(0, dir.lastIndexOf("/")));
    await Deno.mkdir(`${dir}/deno-dir`);
    const entry = await writeSandboxEntry(`${dir}/sandbox.js`);
    return new Supervisor(options, dir, entry);
  }

  /**
   * Loads a deployment into its own sandbox (the deploy warm-up); answers what its modules
   * export as `schedule`, to be checked; rejects with LoadError.
   */
  async load(deployment: LoadableDeployment): Promise<unknown> {
    const { appId } = deployment;
    const before = this.#warmUps.get(appId);
    const turn = (async () => {
      await before;
      const sandbox = await this.#acquire(deployment, {}, WARM_UP);
      this.#done(sandbox);
      return sandbox.schedules;
    })();
    const settled = turn.then(() => {}, () => {});
    this.#warmUps.set(appId, settled);
    void settled.then(() => {
      if (this.#warmUps.get(appId) === settled) this.#warmUps.delete(appId);
    });
    return await turn;
  }

  /** The figures of the apps' shares of the slots (README "Budgets"). */
  get shareLimits(): ShareLimits {
    return this.#shares.limits;
  }

  /** Slots `appId` holds now across its environments (sandboxes with work), for tests and metrics. */
  heldBy(appId: string): number {
    return this.#shares.held(appId);
  }

  /** Whether apps other than `appId` hold slots now: requests of theirs are being served. */
  othersBusy(appId: string): boolean {
    return this.#shares.othersHold(appId);
  }

  /** Stops a deployment's sandbox once it is idle; called when the deployment was replaced. */
  release(depId: string): void {
    this.#released.add(depId);
    const sandbox = this.#live.get(depId);
    if (sandbox && sandbox.busy === 0) this.#stop(sandbox, { kind: "retired" });
  }

  /**
   * Runs one request; rejects with SandboxFailure (or LoadError if the code no longer loads), or
   * BudgetRefusal past its app's share (README "Budgets"). The request counts against its app's
   * requests in flight, and its sandbox holds a slot of the app's share, until it and its
   * `waitUntil` work are done.
   */
  async invoke(
    deployment: LoadableDeployment,
    call: Invocation,
    hooks: InvocationHooks,
    timeoutMs: number,
    timing: AcquireTiming = {},
    options: InvokeOptions = {},
  ): Promise<InvocationResult> {
    const { appId } = deployment;
    const refused = this.#shares.enter(appId);
    if (refused) {
      this.#stats.refusedShare++;
      throw refused;
    }
    // The hot path: the deployment's sandbox is serving and may take one more, at once.
    this.#released.delete(deployment.id);
    let sandbox = this.#takeLive(deployment, false);
    if (!sandbox) {
      try {
        sandbox = await this.#acquire(deployment, timing, {
          warmUp: false,
          queue: options.queue ?? true,
        });
      } catch (error) {
        this.#shares.leave(appId);
        throw error;
      }
    }
    const finish = () => {
      this.#done(sandbox);
      this.#shares.leave(appId);
    };
    let out: InvocationResult;
    try {
      out = await sandbox.invoke(call, hooks, timeoutMs);
    } catch (error) {
      finish();
      throw error;
    }
    // Work left for after the response keeps the sandbox busy: never evicted or judged idle.
    if (out.background) void out.background.catch(() => {}).finally(finish);
    else finish();
    return out;
  }

  /**
   * Stops a deployment's sandbox now, even with requests in flight (they fail with 503): its
   * environment was deleted.
   */
  stopDeployment(depId: string): void {
    this.#released.add(depId);
    const sandbox = this.#live.get(depId);
    if (sandbox) this.#stop(sandbox, { kind: "retired" });
  }

  /** What the supervisor runs now and has done since start. */
  stats(): SupervisorStats {
    return {
      ...this.#stats,
      stops: { ...this.#stats.stops },
      live: this.#live.size,
      spares: this.#spares.length,
      memoryBytes: this.#memoryHeld(),
    };
  }

  /** The figures of the cold-start budget (README "Budgets"). */
  get coldStartLimits(): ColdStartLimits {
    return this.#coldStarts.limits;
  }

  /** The figures of the apps' CPU budget (README "Budgets"). */
  get cpuLimits(): CpuLimits {
    return this.#cpu.limits;
  }

  /** The figures of the sandboxes' memory budget (README "Budgets"). */
  get memoryLimits(): MemoryLimits {
    return this.#memory;
  }

  /** What every sandbox holds now (unread ones and those being started estimated), in bytes. */
  #memoryHeld(): number {
    return heldBy(this.#live.values(), this.#memory) + heldBy(this.#spares, this.#memory) +
      this.#reserved * this.#memory.estimateBytes;
  }

  /** Process ids of every sandbox process (live and spare), for tests and metrics. */
  pids(): number[] {
    return [...this.#live.values(), ...this.#spares].filter((s) => !s.exited).map((s) => s.pid);
  }

  /** The process id serving a deployment, or null when none does now. */
  pidOf(depId: string): number | null {
    const sandbox = this.#live.get(depId);
    return sandbox && !sandbox.exited ? sandbox.pid : null;
  }

  /** Stops every sandbox process, waits for their exits, and closes the socket. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#watch);
    this.#coldStarts.close(new SandboxFailure("stopped", "the server is shutting down"));
    this.#listener.close();
    const all = [...this.#live.values(), ...this.#spares, ...this.#awaitingHello.values()];
    await Promise.all(all.map((s) => s.stop({ kind: "closed" })));
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }

  /**
   * A loaded sandbox for `deployment`, marked busy; the caller must pair it with `#done`. A
   * sandbox going from idle to busy, or starting, takes a slot of its app's share: past the share
   * it waits (with `mode.queue`, until `acquireWaitMs`) for one to free, then is refused.
   */
  async #acquire(
    deployment: LoadableDeployment,
    timing: AcquireTiming,
    mode: AcquireMode,
  ): Promise<Sandbox> {
    this.#released.delete(deployment.id);
    const deadline = performance.now() + (mode.queue ? this.#options.acquireWaitMs : 0);
    const turn: ColdStartTurn = {};
    try {
      return await this.#acquireWithTurn(deployment, timing, mode, deadline, turn);
    } finally {
      turn.end?.();
    }
  }

  /**
   * The deployment's serving sandbox, marked busy, when it has one and may take this request
   * now (already busy, or its app's share has a slot for it); else null, nothing taken.
   */
  #takeLive(deployment: LoadableDeployment, warmUp: boolean): Sandbox | null {
    const live = this.#live.get(deployment.id);
    if (!live || live.stopping) return null;
    if (live.busy === 0) {
      if (this.#shares.refusal(deployment.appId, warmUp)) return null;
      this.#shares.take(deployment.appId);
    }
    live.busy++;
    live.lastUsed = performance.now();
    return live;
  }

  /**
   * `#acquire`'s loop. A cold start's turn (cold.ts) is taken into `turn` before its slot, so
   * starts waiting for their turn hold no slot; `#acquire` ends it once the sandbox is loaded (or
   * not). Deploy warm-ups take none.
   */
  async #acquireWithTurn(
    deployment: LoadableDeployment,
    timing: AcquireTiming,
    mode: AcquireMode,
    deadline: number,
    turn: ColdStartTurn,
  ): Promise<Sandbox> {
    const { appId } = deployment;
    while (true) {
      const live = this.#live.get(deployment.id);
      if (live && !live.stopping) {
        const taken = this.#takeLive(deployment, mode.warmUp);
        if (taken) return taken;
        await this.#waitForShare(this.#shares.refusal(appId, mode.warmUp)!, deadline, timing);
        continue;
      }
      const starting = this.#starting.get(deployment.id);
      if (starting) {
        const waited = performance.now();
        await starting;
        timing.sandboxMs = (timing.sandboxMs ?? 0) + performance.now() - waited;
        continue;
      }
      const refused = this.#shares.refusal(appId, mode.warmUp);
      if (refused) {
        await this.#waitForShare(refused, deadline, timing);
        continue;
      }
      if (!mode.warmUp && !turn.end) {
        const queued = performance.now();
        try {
          turn.end = await this.#coldStarts.admit(appId, deadline);
        } finally {
          timing.queueMs = (timing.queueMs ?? 0) + performance.now() - queued;
        }
        // Another request may have started this deployment, or taken the slots, meanwhile.
        continue;
      }
      // The slot taken here is the new sandbox's first busy count, given back by `#done`.
      this.#shares.take(appId);
      const start = this.#start(deployment, timing, deadline, mode.warmUp);
      this.#starting.set(deployment.id, start);
      try {
        return await start;
      } catch (error) {
        this.#shares.give(appId);
        this.#wake();
        throw error;
      } finally {
        this.#starting.delete(deployment.id);
      }
    }
  }

  /** Waits until a slot may have freed, or throws `refused` once `deadline` has passed. */
  async #waitForShare(
    refused: Error,
    deadline: number,
    timing: AcquireTiming,
  ): Promise<void> {
    const left = deadline - performance.now();
    if (left <= 0) {
      this.#stats.refusedShare++;
      throw refused;
    }
    const waited = performance.now();
    await this.#sleepUntilWoken(left);
    timing.queueMs = (timing.queueMs ?? 0) + performance.now() - waited;
  }

  /** Resolves at the next `#wake` (a slot freed), or after `ms`. */
  #sleepUntilWoken(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(finish, ms);
      this.#waiters.add(finish);
      function finish() {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  #done(sandbox: Sandbox): void {
    sandbox.busy--;
    sandbox.lastUsed = performance.now();
    if (sandbox.busy > 0) return;
    if (sandbox.deployment) this.#shares.give(sandbox.deployment.appId);
    const depId = sandbox.deployment?.id;
    if (depId && this.#released.has(depId)) this.#stop(sandbox, { kind: "retired" });
    this.#wake();
  }

  async #start(
    deployment: LoadableDeployment,
    timing: AcquireTiming,
    deadline: number,
    warmUp: boolean,
  ): Promise<Sandbox> {
    const queued = performance.now();
    try {
      await this.#reserveSlot(deployment.appId, warmUp, deadline);
    } finally {
      timing.queueMs = (timing.queueMs ?? 0) + performance.now() - queued;
    }
    return await this.#loadIntoSpare(deployment, timing);
  }

  /** Takes a spare (the slot is reserved) and loads `deployment` into it. */
  async #loadIntoSpare(deployment: LoadableDeployment, timing: AcquireTiming): Promise<Sandbox> {
    const started = performance.now();
    let sandbox: Sandbox;
    try {
      sandbox = await this.#takeSpare();
    } catch (error) {
      this.#reserved--;
      this.#wake();
      throw error;
    }
    this.#reserved--;
    sandbox.busy++;
    this.#live.set(deployment.id, sandbox);
    this.#stats.coldStarts++;
    if (this.#cpu.throttled(deployment.appId)) void this.#renice(sandbox, THROTTLED_NICE);
    try {
      await sandbox.load(deployment, this.#options.loadTimeoutMs);
    } catch (error) {
      sandbox.busy--;
      this.#stop(sandbox, { kind: "closed" });
      throw error;
    } finally {
      timing.sandboxMs = (timing.sandboxMs ?? 0) + performance.now() - started;
    }
    return sandbox;
  }

  /**
   * Waits until a new sandbox of `appId` may start (until `deadline`, performance.now() ms):
   * under MAX_SANDBOXES, and with room for it in the memory budget and in its app's quarter of
   * it (a warm-up is exempt from the app's quarter). Evicts idle sandboxes, least recently used
   * first (the app's own for its quarter), to make room.
   */
  async #reserveSlot(appId: string, warmUp: boolean, deadline: number): Promise<void> {
    const limits = this.#memory;
    while (true) {
      if (!warmUp && this.#appMemory(appId) + limits.estimateBytes > limits.perAppBytes) {
        const own = this.#idle((s) => s.deployment?.appId === appId);
        if (own) {
          this.#stop(own, { kind: "evicted" });
          continue;
        }
        await this.#waitForShare(this.#appMemoryRefusal(appId), deadline, {});
        continue;
      }
      const countFull = this.#live.size + this.#reserved >= this.#options.maxSandboxes;
      const memoryFull = this.#memoryHeld() + limits.estimateBytes > limits.admitBytes;
      if (!countFull && !memoryFull) {
        this.#reserved++;
        return;
      }
      const idle = this.#idle(() => true);
      if (idle) {
        this.#stop(idle, { kind: "evicted" });
        continue;
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        this.#stats.refusedBusy++;
        throw new SandboxFailure(
          "busy",
          countFull
            ? `every sandbox is busy (${this.#options.maxSandboxes} at most); try again shortly`
            : `every sandbox is busy, and together they hold ${mb(this.#memoryHeld())} MB of ` +
              `the ${mb(limits.admitBytes)} MB new ones are admitted to ` +
              `(SANDBOX_MEMORY_TOTAL_MB=${mb(limits.totalBytes)}); try again shortly`,
        );
      }
      await this.#sleepUntilWoken(left);
    }
  }

  /** The least recently used live sandbox with no work that `which` accepts, if any. */
  #idle(which: (sandbox: Sandbox) => boolean): Sandbox | undefined {
    let oldest: Sandbox | undefined;
    for (const sandbox of this.#live.values()) {
      if (sandbox.busy > 0 || sandbox.stopping || !which(sandbox)) continue;
      if (!oldest || sandbox.lastUsed < oldest.lastUsed) oldest = sandbox;
    }
    return oldest;
  }

  /** What the live sandboxes of `appId` hold, in bytes (unread ones estimated). */
  #appMemory(appId: string): number {
    let held = 0;
    for (const sandbox of this.#live.values()) {
      if (sandbox.deployment?.appId === appId && !sandbox.stopping) {
        held += bytesOf(sandbox, this.#memory);
      }
    }
    return held;
  }

  #appMemoryRefusal(appId: string): BudgetRefusal {
    const { perAppBytes, totalBytes } = this.#memory;
    return new BudgetRefusal(
      "unavailable",
      "sandbox memory per app",
      `sandbox memory per app: app "${appId}"'s busy sandboxes hold ` +
        `${mb(this.#appMemory(appId))} MB across its environments; another would pass its share ` +
        `of ${mb(perAppBytes)} MB (a quarter of SANDBOX_MEMORY_TOTAL_MB=${mb(totalBytes)}); ` +
        "retry shortly",
      1,
    );
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  async #takeSpare(): Promise<Sandbox> {
    while (true) {
      const spare = this.#spares.shift() ?? this.#spawn();
      this.#replenish();
      try {
        await spare.ready;
        if (!spare.exited) return spare;
      } catch {
        if (this.#closed) throw new SandboxFailure("stopped", "the server is shutting down");
      }
    }
  }

  #replenish(): void {
    while (!this.#closed && this.#spares.length < this.#options.spares) {
      this.#spares.push(this.#spawn());
    }
  }

  #spawn(): Sandbox {
    const token = crypto.randomUUID();
    const { heapMb } = this.#options;
    const command = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...NO_RESOLUTION_FLAGS,
        "--no-prompt",
        `--v8-flags=--max-old-space-size=${heapMb},--disallow-code-generation-from-strings`,
        `--allow-net=unix:${this.#socketPath}`,
        `--allow-read=${this.#socketPath}`,
        `--allow-write=${this.#socketPath}`,
        this.#entry,
        this.#socketPath,
      ],
      stdin: "piped",
      stdout: "null",
      stderr: "null",
      clearEnv: true,
      // No WebGPU backend: `requestAdapter()` finds no adapter and loads no driver library,
      // should anything reach it past the lockdown (which removes `navigator.gpu`).
      env: { NO_COLOR: "1", DENO_DIR: `${this.#dir}/deno-dir`, DENO_WEBGPU_BACKEND: "none" },
    });
    const sandbox: Sandbox = new Sandbox({
      command,
      token,
      heapMb,
      replyBytes: this.#options.replyBytes,
      kvTurns: this.#options.kvTurns,
      hostTime: this.#options.hostTime,
      onEvent: (s, level, message) => {
        if (s.deployment) {
          this.#options.onEvent(s.deployment.appId, s.deployment.environment, level, message);
        }
      },
      onExit: (s, reason, status) => {
        // Counted at the exit, whoever stopped it: a timeout is stopped by the sandbox itself.
        const kind = reason?.kind ?? (status.code === 133 ? "heap" : "crashed");
        this.#stats.stops[kind] = (this.#stats.stops[kind] ?? 0) + 1;
        this.#onExit(s, token);
      },
    });
    try {
      // Below the host's priority: however many sandboxes are busy, the host that routes,
      // polices and answers everyone keeps the CPU it needs.
      setPriority(sandbox.pid, SANDBOX_NICE);
      sandbox.nice = SANDBOX_NICE;
    } catch { /* it exited already; its exit is handled like any other */ }
    this.#awaitingHello.set(token, sandbox);
    return sandbox;
  }

  #onExit(sandbox: Sandbox, token: string): void {
    this.#awaitingHello.delete(token);
    const spare = this.#spares.indexOf(sandbox);
    if (spare >= 0) this.#spares.splice(spare, 1);
    const depId = sandbox.deployment?.id;
    if (depId && this.#live.get(depId) === sandbox) this.#live.delete(depId);
    if (depId && this.#released.has(depId) && !this.#live.has(depId)) this.#released.delete(depId);
    this.#wake();
  }

  #stop(sandbox: Sandbox, reason: StopReason): void {
    if (sandbox.stopping) return;
    const depId = sandbox.deployment?.id;
    // The slot frees at once; the exit is awaited by the sandbox itself.
    if (depId && this.#live.get(depId) === sandbox) this.#live.delete(depId);
    void sandbox.stop(reason);
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) void this.#handshake(conn);
    } catch { /* the listener was closed */ }
  }

  async #handshake(conn: Deno.Conn): Promise<void> {
    const reader = new FrameReader();
    const chunks = socketChunks(conn);
    const close = () => {
      try {
        conn.close();
      } catch { /* already closed */ }
    };
    const timer = setTimeout(close, HANDSHAKE_TIMEOUT_MS);
    let frames: Array<Envelope<unknown>> = [];
    try {
      while (frames.length === 0) {
        const next = await chunks.next();
        if (next.done) throw new Error("closed before hello");
        frames = reader.push(next.value);
      }
    } catch {
      clearTimeout(timer);
      close();
      return;
    }
    clearTimeout(timer);
    const hello = frames[0]!.header as Partial<SandboxMessage>;
    const token = hello.t === "hello" ? hello.token ?? "" : "";
    const sandbox = this.#awaitingHello.get(token);
    if (!sandbox) {
      close();
      return;
    }
    this.#awaitingHello.delete(token);
    sandbox.connect(conn, reader, chunks, frames.slice(1));
  }

  /**
   * Reads the processes' memory and CPU (busy ones every tick, idle ones and spares every
   * IDLE_READ_EVERY ticks); stops those past a bound, idle ones, and what the memory budget
   * says must go.
   */
  async #tick(): Promise<void> {
    if (this.#watching) return;
    this.#watching = true;
    try {
      const now = performance.now();
      const { memoryMb, idleMs, idleCpuMs, idleCpuWindowMs, watchIntervalMs } = this.#options;
      // Half a tick early, so a reading due now is not put off by the timer's jitter.
      const idleReadMs = watchIntervalMs * (IDLE_READ_EVERY - 0.5);
      await Promise.all([...this.#live.values(), ...this.#spares].map(async (sandbox) => {
        if (sandbox.stopping) return;
        const idle = sandbox.busy === 0;
        if (idle && sandbox.deployment && now - sandbox.lastUsed > idleMs) {
          this.#stop(sandbox, { kind: "idle" });
          return;
        }
        // One used since its last reading is read now: what it grew by serving counts at once.
        const usedSince = sandbox.lastUsed > sandbox.sampledAt;
        if (idle && !usedSince && now - sandbox.sampledAt < idleReadMs) return;
        const sample = await sampleProcess(sandbox.pid);
        if (!sample || sandbox.stopping) return;
        sandbox.rssBytes = sample.rssBytes;
        sandbox.sampledAt = now;
        if (sandbox.deployment && sandbox.cpuTotalMs !== null) {
          this.#cpu.add(sandbox.deployment.appId, now, sample.cpuMs - sandbox.cpuTotalMs);
        }
        sandbox.cpuTotalMs = sample.cpuMs;
        const usedMb = Math.round(sample.rssBytes / (1024 * 1024));
        if (usedMb > memoryMb) {
          this.#stop(sandbox, { kind: "memory", limitMb: memoryMb, usedMb });
          return;
        }
        if (sandbox.busy > 0 || !sandbox.deployment) {
          sandbox.cpu = null;
          return;
        }
        sandbox.cpu ??= { atMs: now, cpuMs: sample.cpuMs };
        if (now - sandbox.cpu.atMs < idleCpuWindowMs) return;
        const usedMs = Math.round(sample.cpuMs - sandbox.cpu.cpuMs);
        if (usedMs > idleCpuMs) {
          this.#stop(sandbox, {
            kind: "idle-cpu",
            usedMs,
            windowMs: Math.round(now - sandbox.cpu.atMs),
          });
          return;
        }
        sandbox.cpu = { atMs: now, cpuMs: sample.cpuMs };
      }));
      this.#guardMemory();
      this.#guardCpu(now);
    } finally {
      this.#watching = false;
    }
  }

  /**
   * Throttles apps past their CPU share (their sandboxes to THROTTLED_NICE, logged at most once a
   * minute per app with a count) and lets go of those back under it.
   */
  #guardCpu(now: number): void {
    const { start, end } = this.#cpu.review(now);
    if (start.length === 0 && end.length === 0) return;
    const byApp = new Map<string, Sandbox[]>();
    for (const sandbox of this.#live.values()) {
      const appId = sandbox.deployment?.appId;
      if (appId) byApp.set(appId, [...byApp.get(appId) ?? [], sandbox]);
    }
    for (const [appId, share] of start) {
      const sandboxes = byApp.get(appId) ?? [];
      for (const sandbox of sandboxes) void this.#renice(sandbox, THROTTLED_NICE);
      const logged = this.#cpuLogged.get(appId);
      if (logged && now - logged.atMs < CPU_LOG_EVERY_MS) {
        logged.count++;
        continue;
      }
      for (const [app, entry] of this.#cpuLogged) {
        if (now - entry.atMs >= CPU_LOG_EVERY_MS) this.#cpuLogged.delete(app);
      }
      this.#cpuLogged.set(appId, { atMs: now, count: 0 });
      const { perAppShare, cores, windowMs } = this.#cpu.limits;
      const environment = sandboxes[0]?.deployment?.environment ?? "production";
      this.#options.onEvent(
        appId,
        environment,
        "warn",
        `CPU per app: app "${appId}"'s sandboxes used ${Math.round(share * 100)}% of the ` +
          `${cores} CPUs over the last ${windowMs} ms, past its share of ` +
          `${Math.round(perAppShare * 100)}% (APP_CPU_PERCENT); they run at the lowest priority ` +
          `(nice ${THROTTLED_NICE}) until back under ${Math.round(perAppShare * 80)}%` +
          (logged?.count ? ` (throttled ${logged.count} more times since the last entry)` : ""),
      );
    }
    for (const appId of end) {
      for (const sandbox of byApp.get(appId) ?? []) void this.#renice(sandbox, SANDBOX_NICE);
      if (!byApp.has(appId)) this.#cpu.forget(appId);
    }
  }

  /**
   * Sets every thread of `sandbox` to `nice` (Linux's niceness is per thread). Going back up
   * needs CAP_SYS_NICE (or RLIMIT_NICE); without it the sandbox stays at the lower priority
   * until it is replaced.
   */
  async #renice(sandbox: Sandbox, nice: number): Promise<void> {
    if (sandbox.nice === nice || sandbox.stopping) return;
    sandbox.nice = nice;
    for (const tid of await threadIds(sandbox.pid)) {
      try {
        setPriority(tid, nice);
      } catch { /* the thread ended, or raising the priority is not permitted here */ }
    }
  }

  /**
   * Keeps every sandbox together within the memory budget: idle ones are evicted (least
   * recently used first) past the admission level, then the largest busy ones killed past it all.
   */
  #guardMemory(): void {
    const live = [...this.#live.values()].sort((a, b) => a.lastUsed - b.lastUsed);
    const limits = this.#memory;
    const others = heldBy(this.#spares, limits) + this.#reserved * limits.estimateBytes;
    const { idle, largest } = overBudget(live, limits, others);
    for (const sandbox of idle) this.#stop(sandbox, { kind: "evicted" });
    if (largest.length === 0) return;
    const totalMb = mb(heldBy(live, limits) + others);
    for (const sandbox of largest) {
      this.#stop(sandbox, {
        kind: "memory-guard",
        usedMb: mb(bytesOf(sandbox, limits)),
        totalMb,
        limitMb: mb(limits.totalBytes),
      });
    }
  }
}

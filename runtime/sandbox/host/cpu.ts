/**
 * Each app's share of the CPU (README "Budgets"): the supervisor reads every busy sandbox's CPU
 * time from /proc and adds what it used since the last reading to its app. An app whose
 * sandboxes together used more than its share of the machine's CPU over the last window is
 * throttled: its sandboxes run at the lowest priority (nice 19, against the others' 10) until it
 * is back under 80% of its share, so the kernel gives the CPU to every other app that wants it
 * first, and the app still has all of it when nobody else does.
 */

/** The figures of the CPU budget. */
export interface CpuLimits {
  /** CPUs the sandboxes share (what this process may run on). */
  cores: number;
  /** The most of all `cores` one app's sandboxes together may use before they are throttled, 0–1. */
  perAppShare: number;
  /** The window the use is measured over, in ms. */
  windowMs: number;
}

/** What one app's sandboxes used in one reading. */
interface Use {
  atMs: number;
  cpuMs: number;
}

/** Counts each app's CPU over the window and says which apps to throttle or let go. */
export class AppCpu {
  readonly limits: CpuLimits;
  /** App id → what its sandboxes used, oldest first, within the window. */
  readonly #uses = new Map<string, Use[]>();
  readonly #throttled = new Set<string>();

  constructor(limits: CpuLimits) {
    this.limits = limits;
  }

  /** Adds `cpuMs` of CPU used by a sandbox of `appId`, read at `atMs` (performance.now() ms). */
  add(appId: string, atMs: number, cpuMs: number): void {
    if (cpuMs <= 0) return;
    let uses = this.#uses.get(appId);
    if (!uses) this.#uses.set(appId, uses = []);
    uses.push({ atMs, cpuMs });
  }

  /** The part of all cores `appId`'s sandboxes used over the window ending at `nowMs`, 0–1. */
  share(appId: string, nowMs: number): number {
    const uses = this.#uses.get(appId);
    if (!uses) return 0;
    let used = 0;
    for (const use of uses) if (use.atMs > nowMs - this.limits.windowMs) used += use.cpuMs;
    return used / (this.limits.windowMs * this.limits.cores);
  }

  /** Whether `appId` is throttled now. */
  throttled(appId: string): boolean {
    return this.#throttled.has(appId);
  }

  /**
   * Drops readings older than the window, and answers the apps that passed their share
   * (`start`, with their share) and those back under 80% of it (`end`) since the last call.
   */
  review(nowMs: number): { start: Array<[string, number]>; end: string[] } {
    const start: Array<[string, number]> = [];
    const end: string[] = [];
    const { perAppShare, windowMs } = this.limits;
    for (const [appId, uses] of this.#uses) {
      const first = uses.findIndex((use) => use.atMs > nowMs - windowMs);
      if (first < 0) this.#uses.delete(appId);
      else if (first > 0) uses.splice(0, first);
    }
    for (const appId of new Set([...this.#uses.keys(), ...this.#throttled])) {
      const share = this.share(appId, nowMs);
      if (!this.#throttled.has(appId) && share > perAppShare) {
        this.#throttled.add(appId);
        start.push([appId, share]);
      } else if (this.#throttled.has(appId) && share < perAppShare * 0.8) {
        this.#throttled.delete(appId);
        end.push(appId);
      }
    }
    return { start, end };
  }

  /** Forgets `appId` once it has no sandbox left. */
  forget(appId: string): void {
    this.#uses.delete(appId);
    this.#throttled.delete(appId);
  }
}

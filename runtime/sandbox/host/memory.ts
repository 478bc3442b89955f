/**
 * The sandboxes' memory budget (README "Budgets"): sandboxes are admitted by the resident memory
 * they are measured to hold, not by reserving each one's cap. Together they may hold
 * `SANDBOX_MEMORY_TOTAL_MB`; new ones are admitted up to 90% of it, idle ones are evicted past
 * that, and past all of it the largest busy one is killed. One app's sandboxes together are
 * admitted up to a quarter of it, so one tenant cannot take the memory the others start in.
 */

/** The figures of the memory budget, in bytes. */
export interface MemoryLimits {
  /** What every sandbox together may hold (SANDBOX_MEMORY_TOTAL_MB); past it the largest is killed. */
  totalBytes: number;
  /** New sandboxes are admitted, and idle ones kept, while all hold at most this: 90% of the total. */
  admitBytes: number;
  /** New sandboxes of one app are admitted while its sandboxes hold at most this: a quarter. */
  perAppBytes: number;
  /** What a sandbox not measured yet counts for (a fresh process holds about 35–40 MB). */
  estimateBytes: number;
}

const MB = 1024 * 1024;
/** A process not read yet counts for this much, in MB: more than a booted hello sandbox holds. */
const START_ESTIMATE_MB = 64;

/**
 * The memory figures for `totalMb` in all and `perSandboxMb` per sandbox (SANDBOX_MEMORY_MB):
 * an app's quarter is never below one sandbox at its cap.
 */
export function memoryLimits(totalMb: number, perSandboxMb: number): MemoryLimits {
  return {
    totalBytes: totalMb * MB,
    admitBytes: Math.floor(totalMb * 0.9) * MB,
    perAppBytes: Math.max(Math.floor(totalMb / 4), perSandboxMb) * MB,
    estimateBytes: Math.min(START_ESTIMATE_MB, perSandboxMb) * MB,
  };
}

/** What the budget needs of a sandbox: its last reading, its app and whether it has work. */
export interface Measured {
  /** Resident memory at the last reading, in bytes; null before the first. */
  rssBytes: number | null;
  /** Requests and loads under way. */
  busy: number;
  /** Whether it is being stopped already (its memory is on its way back). */
  stopping: boolean;
}

/** What `sandbox` counts for: its last reading, or the estimate before one. */
export function bytesOf(sandbox: Measured, limits: MemoryLimits): number {
  return sandbox.rssBytes ?? limits.estimateBytes;
}

/** What `sandboxes` hold together, those being stopped left out. */
export function heldBy(sandboxes: Iterable<Measured>, limits: MemoryLimits): number {
  let held = 0;
  for (const sandbox of sandboxes) if (!sandbox.stopping) held += bytesOf(sandbox, limits);
  return held;
}

/**
 * Which sandboxes to stop so that all of them hold at most the budget: idle ones, oldest use
 * first (`sandboxes` in least recently used order), until they are under `admitBytes`; then,
 * while still over `totalBytes`, the largest busy ones. `otherBytes` is held by processes that
 * are not candidates (spares, starts). Answers both lists; stops nothing.
 */
export function overBudget<T extends Measured>(
  sandboxes: T[],
  limits: MemoryLimits,
  otherBytes = 0,
): { idle: T[]; largest: T[] } {
  let held = heldBy(sandboxes, limits) + otherBytes;
  const idle: T[] = [];
  const largest: T[] = [];
  if (held <= limits.admitBytes) return { idle, largest };
  for (const sandbox of sandboxes) {
    if (held <= limits.admitBytes) break;
    if (sandbox.stopping || sandbox.busy > 0) continue;
    idle.push(sandbox);
    held -= bytesOf(sandbox, limits);
  }
  if (held <= limits.totalBytes) return { idle, largest };
  const busy = sandboxes.filter((s) => !s.stopping && s.busy > 0)
    .sort((a, b) => bytesOf(b, limits) - bytesOf(a, limits));
  for (const sandbox of busy) {
    if (held <= limits.totalBytes) break;
    largest.push(sandbox);
    held -= bytesOf(sandbox, limits);
  }
  return { idle, largest };
}

/** `bytes` in whole MB, for messages. */
export function mb(bytes: number): number {
  return Math.round(bytes / MB);
}

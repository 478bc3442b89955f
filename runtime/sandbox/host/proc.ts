/**
 * Reads a process's resident memory and CPU time from Linux's /proc, the effects the
 * supervisor bounds. Elsewhere (no /proc) every reading is null and only the heap cap applies.
 */

/** Bytes of a memory page and clock ticks per second: the values of every mainstream Linux. */
const PAGE_BYTES = 4096;
const TICKS_PER_SECOND = 100;

/** One reading of a process. */
export interface ProcSample {
  /** Resident memory of the whole process (all threads, heap, ArrayBuffers, Wasm), in bytes. */
  rssBytes: number;
  /** User and system CPU time used so far by all its threads, in ms. */
  cpuMs: number;
  /** The parent's process id. */
  ppid: number;
  /** Its state letter: R running, S sleeping, Z exited but not yet reaped, … */
  state: string;
}

/** Reads `/proc/<pid>/stat`; null when the process is gone or there is no /proc. */
export async function sampleProcess(pid: number): Promise<ProcSample | null> {
  const text = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => null);
  return text === null ? null : parseStat(text);
}

function parseStat(text: string): ProcSample | null {
  // The command name (field 2) may hold spaces and parentheses: fields start after the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // Counted from field 3 (state): ppid is field 4, utime 14, stime 15, rss 24.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const rss = Number(fields[21]);
  const ppid = Number(fields[1]);
  if (!Number.isFinite(utime + stime + rss + ppid)) return null;
  return {
    rssBytes: rss * PAGE_BYTES,
    cpuMs: ((utime + stime) * 1000) / TICKS_PER_SECOND,
    ppid,
    state: fields[0]!,
  };
}

/** Totals of a process and every process below it. */
export interface TreeSample {
  /** Resident memory of all of them, in bytes. */
  rssBytes: number;
  /** CPU time all of them used so far, in ms. */
  cpuMs: number;
  /** Each process counted, by id. */
  processes: Map<number, ProcSample>;
}

/** Reads every process under `root` (itself included) from /proc; empty totals without /proc. */
export async function sampleTree(root: number): Promise<TreeSample> {
  const samples = new Map<number, ProcSample>();
  try {
    for await (const entry of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      const sample = await sampleProcess(Number(entry.name));
      if (sample) samples.set(Number(entry.name), sample);
    }
  } catch {
    return { rssBytes: 0, cpuMs: 0, processes: new Map() };
  }
  const inTree = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
      if (p === root) return true;
      p = samples.get(p)?.ppid ?? 0;
    }
    return false;
  };
  const out: TreeSample = { rssBytes: 0, cpuMs: 0, processes: new Map() };
  for (const [pid, sample] of samples) {
    if (!inTree(pid)) continue;
    out.rssBytes += sample.rssBytes;
    out.cpuMs += sample.cpuMs;
    out.processes.set(pid, sample);
  }
  return out;
}

/**
 * When a process started, in clock ticks since boot (`/proc/<pid>/stat` field 22): with its id,
 * what tells it from a later process given the same id. Null when it is gone or there is no /proc.
 */
export async function processStartTicks(pid: number): Promise<number | null> {
  const text = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => null);
  if (text === null) return null;
  // Counted from field 3 (state), as in parseStat: starttime is field 22.
  const ticks = Number(text.slice(text.lastIndexOf(")") + 2).split(" ")[19]);
  return Number.isFinite(ticks) ? ticks : null;
}

/** The ids of every thread of process `pid` (`/proc/<pid>/task`); empty when it is gone. */
export async function threadIds(pid: number): Promise<number[]> {
  const ids: number[] = [];
  try {
    for await (const entry of Deno.readDir(`/proc/${pid}/task`)) {
      const tid = Number(entry.name);
      if (Number.isSafeInteger(tid)) ids.push(tid);
    }
  } catch { /* gone, or no /proc */ }
  return ids;
}

/**
 * A compile process and its descendants (esbuild's service), read from Linux's /proc: their
 * resident memory and CPU time, which the pool bounds, and their ids, which it kills. It follows
 * `/proc/<pid>/task/<tid>/children`, so a reading costs a few small reads, not a scan of every
 * process; where those files are missing it falls back to that scan (proc.ts).
 */
import { sampleProcess, sampleTree } from "../../sandbox/host/proc.ts";

/** One reading of a process tree. */
export interface TreeReading {
  /** Resident memory of every process in it, in bytes. */
  rssBytes: number;
  /** CPU time every process in it used so far, in ms. */
  cpuMs: number;
  /** The ids of the processes below the root (not the root), deepest last. */
  descendants: number[];
}

/** Most processes followed below a root: a compile process has one child, esbuild. */
const MAX_PROCESSES = 64;

/**
 * Reads `root` and its descendants; zero totals when `root` is gone or there is no /proc.
 * With `known` (the descendants of an earlier reading) only those are read, two or three small
 * files, unless one of them is gone; a process they started since is then missed.
 */
export async function readTree(root: number, known?: number[]): Promise<TreeReading> {
  if (known) {
    const samples = await Promise.all([root, ...known].map(sampleProcess));
    if (samples.every((sample) => sample !== null)) {
      return {
        rssBytes: samples.reduce((sum, sample) => sum + sample!.rssBytes, 0),
        cpuMs: samples.reduce((sum, sample) => sum + sample!.cpuMs, 0),
        descendants: known,
      };
    }
  }
  const reading: TreeReading = { rssBytes: 0, cpuMs: 0, descendants: [] };
  const pending = [root];
  for (let seen = 0; pending.length > 0 && seen < MAX_PROCESSES; seen++) {
    const pid = pending.shift()!;
    const sample = await sampleProcess(pid);
    if (!sample) continue;
    reading.rssBytes += sample.rssBytes;
    reading.cpuMs += sample.cpuMs;
    if (pid !== root) reading.descendants.push(pid);
    const children = await childrenOf(pid);
    if (children === null) return await scanned(root);
    pending.push(...children);
  }
  return reading;
}

/** The children of `pid`, from every one of its threads; null when the kernel lists none. */
async function childrenOf(pid: number): Promise<number[] | null> {
  const out: number[] = [];
  try {
    for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
      const text = await Deno.readTextFile(`/proc/${pid}/task/${task.name}/children`);
      for (const id of text.split(" ")) if (id.trim()) out.push(Number(id));
    }
  } catch (error) {
    // A process that just exited has no tasks left: it has no children either.
    if (error instanceof Deno.errors.NotFound && !await exists(`/proc/${pid}`)) return [];
    return error instanceof Deno.errors.NotFound ? null : [];
  }
  return out;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** The same reading by scanning every process in /proc. */
async function scanned(root: number): Promise<TreeReading> {
  const tree = await sampleTree(root);
  return {
    rssBytes: tree.rssBytes,
    cpuMs: tree.cpuMs,
    descendants: [...tree.processes.keys()].filter((pid) => pid !== root),
  };
}

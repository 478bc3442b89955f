/**
 * How much memory this process may use: the memory limit of its cgroup (what a container or pod
 * is given: cgroup v2 `memory.max`, v1 `memory.limit_in_bytes`) when one is set, else the
 * machine's RAM. The memory-derived defaults (README "Configuration") are sized from it, so a
 * 1 GB pod on a 64 GB node is sized for 1 GB, not 64.
 */

/** The memory available to this process, and where the figure came from. */
export interface MemoryLimit {
  /** In bytes. */
  bytes: number;
  source: "cgroup v2" | "cgroup v1" | "host";
}

/** Where to look; the defaults are Linux's own paths (tests point them at a folder of files). */
export interface MemoryProbe {
  /** The cgroup file system's mount point (default /sys/fs/cgroup). */
  cgroupRoot?: string;
  /** This process's cgroup membership (default /proc/self/cgroup). */
  selfCgroup?: string;
  /** The machine's RAM, in bytes (default Deno.systemMemoryInfo().total). */
  hostBytes?: number;
}

/**
 * The smallest of the cgroup limits that apply (this process's own cgroup, then the mount's root,
 * which is the container's cgroup when the container has a cgroup namespace) and the machine's
 * RAM. "max" and v1's huge "unlimited" figure count as no limit.
 */
export function memoryLimit(probe: MemoryProbe = {}): MemoryLimit {
  const root = probe.cgroupRoot ?? "/sys/fs/cgroup";
  const host = probe.hostBytes ?? Deno.systemMemoryInfo().total;
  const membership = readText(probe.selfCgroup ?? "/proc/self/cgroup") ?? "";
  let best: MemoryLimit = { bytes: host, source: "host" };
  const consider = (path: string, source: MemoryLimit["source"]) => {
    const bytes = limitIn(path);
    if (bytes !== null && bytes < best.bytes) best = { bytes, source };
  };
  for (const line of membership.split("\n")) {
    const [, controllers = "", path = ""] = line.split(":");
    if (line.startsWith("0::")) consider(`${root}${trimmed(path)}/memory.max`, "cgroup v2");
    if (controllers.split(",").includes("memory")) {
      consider(`${root}/memory${trimmed(path)}/memory.limit_in_bytes`, "cgroup v1");
    }
  }
  consider(`${root}/memory.max`, "cgroup v2");
  consider(`${root}/memory/memory.limit_in_bytes`, "cgroup v1");
  return best;
}

/** A cgroup path without its trailing slash ("/" becomes ""). */
function trimmed(path: string): string {
  return path.replace(/\/+$/, "");
}

/** The limit a cgroup memory file states, in bytes; null for none, "max" or an unreadable file. */
function limitIn(path: string): number | null {
  const text = readText(path)?.trim();
  if (!text || text === "max") return null;
  const bytes = Number(text);
  // cgroup v1 writes "no limit" as the largest page-aligned 63-bit figure.
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : null;
}

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

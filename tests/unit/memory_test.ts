/**
 * Memory-derived defaults follow the container: the cgroup's limit (v2 memory.max, v1
 * memory.limit_in_bytes, in the process's own cgroup or at the mount's root) when one is set, else
 * the machine's RAM. The cgroup files are written to a temp folder laid out as /sys/fs/cgroup is.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../../runtime/platform/config.ts";
import { memoryLimit } from "../../runtime/platform/memory.ts";

const GB = 1024 ** 3;
const HOST = 64 * GB;
const ENV = { API_KEY: "memory-test-admin-key-0123" };

/** A cgroup tree in a temp folder: `files` maps paths under the root to their text. */
async function cgroupTree(files: Record<string, string>, membership: string) {
  const root = await Deno.makeTempDir({ prefix: "fn-cgroup-" });
  for (const [path, text] of Object.entries(files)) {
    const full = `${root}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, text);
  }
  await Deno.writeTextFile(`${root}/self`, membership);
  return { cgroupRoot: root, selfCgroup: `${root}/self`, hostBytes: HOST };
}

Deno.test("a 1 GB cgroup v2 pod on a 64 GB node gets defaults sized for 1 GB", async () => {
  const probe = await cgroupTree({ "memory.max": `${GB}\n` }, "0::/\n");
  const memory = memoryLimit(probe);
  assert.deepEqual(memory, { bytes: GB, source: "cgroup v2" });
  const config = loadConfig(ENV, memory);
  // Every memory-derived default is the one of a 1 GB machine, not of the 64 GB node.
  const small = loadConfig(ENV, { bytes: GB, source: "host" });
  const host = loadConfig(ENV, { bytes: HOST, source: "host" });
  assert.deepEqual(config.sandboxes, small.sandboxes);
  assert.ok(config.sandboxes.max < host.sandboxes.max, "fewer sandboxes than on the node");
  assert.equal(config.compileMemoryMb, 256);
  assert.equal(host.compileMemoryMb, 512);
});

Deno.test("cgroup v2 'max' and v1's unlimited figure mean no limit: the host's RAM", async () => {
  const v2 = await cgroupTree({ "memory.max": "max\n" }, "0::/\n");
  assert.deepEqual(memoryLimit(v2), { bytes: HOST, source: "host" });
  const v1 = await cgroupTree(
    { "memory/memory.limit_in_bytes": "9223372036854771712\n" },
    "4:memory:/\n",
  );
  assert.deepEqual(memoryLimit(v1), { bytes: HOST, source: "host" });
});

Deno.test("cgroup v1: the limit of the process's own cgroup, under the memory controller", async () => {
  const probe = await cgroupTree({
    "memory/memory.limit_in_bytes": "9223372036854771712\n",
    "memory/kubepods/pod-a/memory.limit_in_bytes": `${4 * GB}\n`,
  }, "5:cpu,cpuacct:/kubepods/pod-a\n4:memory:/kubepods/pod-a\n0::/\n");
  const memory = memoryLimit(probe);
  assert.deepEqual(memory, { bytes: 4 * GB, source: "cgroup v1" });
  const config = loadConfig(ENV, memory);
  assert.deepEqual(config.sandboxes, loadConfig(ENV, { bytes: 4 * GB, source: "host" }).sandboxes);
  assert.equal(config.compileMemoryMb, 512);
  // Explicit settings still win over the derived defaults.
  const set = loadConfig({ ...ENV, MAX_SANDBOXES: "9", COMPILE_MEMORY_MB: "300" }, memory);
  assert.equal(set.sandboxes.max, 9);
  assert.equal(set.compileMemoryMb, 300);
});

Deno.test("a limit above the machine's RAM, or no cgroup files at all, leaves the RAM", async () => {
  const above = await cgroupTree({ "memory.max": `${128 * GB}\n` }, "0::/\n");
  assert.deepEqual(memoryLimit(above), { bytes: HOST, source: "host" });
  const none = await cgroupTree({}, "");
  assert.deepEqual(memoryLimit(none), { bytes: HOST, source: "host" });
  // This machine: whatever it reports is at most its RAM.
  assert.ok(memoryLimit().bytes <= Deno.systemMemoryInfo().total);
});

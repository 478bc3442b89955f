/**
 * The sandbox's surface, from a handler's side: no WebGPU (and no GPU driver library gets loaded
 * into the process, read from /proc/<pid>/maps), no global outside the documented allow-list, no
 * host path (`Deno.cwd()`, `Deno.execPath()`, the bootstrap's path, in values or stacks); and
 * the supervisor's temp folders: removed at stop, and at start only those whose recorded owner
 * process is gone.
 */
import assert from "node:assert/strict";
import { appId, json, startServer } from "./helpers.ts";
import { ALLOWED_GLOBALS } from "../runtime/sandbox/child/lockdown.ts";

const PROBE = `
const tryIt = async (f) => { try { return { value: String(await f()) }; } catch (e) { return { error: String(e?.message ?? e) }; } };
export default async () => {
  const gpuDescriptor = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(navigator), "gpu");
  const report = {
    globals: Object.getOwnPropertyNames(globalThis),
    gpu: await tryIt(() => navigator.gpu.requestAdapter()),
    gpuType: typeof navigator.gpu,
    gpuDescriptor: gpuDescriptor === undefined ? "none" : "present",
    cwd: await tryIt(() => Deno.cwd()),
    execPath: await tryIt(() => Deno.execPath()),
    mainModule: await tryIt(() => Deno.mainModule),
    args: await tryIt(() => Deno.args.join(" ")),
    pid: await tryIt(() => Deno.pid),
    swapFormatter: await tryIt(() => {
      Error.prepareStackTrace = (_e, sites) => sites.map((s) => s.getFileName()).join(" ");
      return "swapped";
    }),
    stack: await (async () => { await new Promise((r) => setTimeout(r, 1)); return new Error("here").stack; })(),
  };
  return { body: report };
};`;

const HOST_LIBRARIES = /mesa|llvm|\/dri\/|vulkan|libEGL|libGL|swrast|lavapipe|shader_cache/i;

Deno.test("a handler finds no WebGPU, no unlisted global and no host path", async () => {
  const s = await startServer();
  try {
    const app = appId("surface");
    const { id } = await s.deployOk(app, { "api/probe.ts": PROBE });
    const response = await s.call(app, "/probe");
    const text = await response.text();
    assert.equal(response.status, 200, text);
    const report = JSON.parse(text);

    assert.equal(report.gpuType, "undefined");
    assert.equal(report.gpuDescriptor, "none");
    assert.ok(report.gpu.error, `requestAdapter answered ${report.gpu.value}`);
    const unlisted = report.globals.filter((name: string) => !ALLOWED_GLOBALS.has(name));
    assert.deepEqual(unlisted, []);
    for (
      const name of ["GPU", "GPUAdapter", "caches", "localStorage", "BroadcastChannel", "Worker"]
    ) {
      assert.ok(!report.globals.includes(name), `${name} is reachable`);
    }

    const pid = s.platform.sandboxes.pidOf(id);
    assert.ok(pid !== null);
    // No driver library was mapped into the process by the attempt.
    const maps = await Deno.readTextFile(`/proc/${pid}/maps`);
    const loaded = maps.split("\n").filter((line) => HOST_LIBRARIES.test(line));
    assert.deepEqual(loaded, []);

    for (const what of ["cwd", "execPath", "mainModule", "args", "pid"]) {
      assert.match(report[what].error ?? "", /is not available inside a function/, what);
    }
    assert.ok(report.swapFormatter.error, "Error.prepareStackTrace could be replaced");
    // Nothing of the host's paths in the whole answer: the working directory, the executable,
    // the supervisor's folder (where the bootstrap and the socket are).
    const cmdline = (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0");
    const socket = cmdline.find((arg) => arg.startsWith("/") && arg.endsWith("sandbox.sock"));
    assert.ok(socket, cmdline.join(" "));
    const folder = socket.slice(0, socket.lastIndexOf("/"));
    for (const path of [Deno.cwd(), Deno.execPath(), folder, "sandbox.js"]) {
      assert.ok(!text.includes(path), `the handler saw ${path}`);
    }
    assert.match(report.stack, /^Error: here\n\s+at .*api\/probe\.ts:\d+:\d+/);
  } finally {
    await s.close();
  }
});

Deno.test("supervisor folders: removed at stop; at start, only those whose owner is gone", async () => {
  const temp = await Deno.makeTempDir({ prefix: "fn-surface-" });
  const tmp = temp.slice(0, temp.lastIndexOf("/"));
  await Deno.remove(temp);
  const ownTicks = (await Deno.readTextFile(`/proc/${Deno.pid}/stat`)).split(") ")[1]!
    .split(" ")[19];
  const plant = async (name: string, owner: string | null) => {
    const folder = `${tmp}/sandbox-${name}-${crypto.randomUUID().slice(0, 8)}`;
    await Deno.mkdir(folder);
    if (owner !== null) await Deno.writeTextFile(`${folder}/owner`, owner);
    return folder;
  };
  const orphan = await plant("orphan", "999999999 12345");
  const reused = await plant("reused", `${Deno.pid} 1`); // our pid, but another start time
  const alive = await plant("alive", `${Deno.pid} ${ownTicks}`);
  const unrecorded = await plant("unrecorded", null);
  const exists = (path: string) => Deno.stat(path).then(() => true, () => false);
  const s = await startServer();
  let own = "";
  try {
    const app = appId("folders");
    const { id } = await s.deployOk(app, { "api/a.ts": "export default () => ({ body: 1 })" });
    assert.equal(await json(await s.call(app, "/a"), 200), 1);
    const cmdline = await Deno.readTextFile(`/proc/${s.platform.sandboxes.pidOf(id)}/cmdline`);
    const socket = cmdline.split("\0").find((arg) =>
      arg.startsWith("/") && arg.endsWith("sandbox.sock")
    )!;
    own = socket.slice(0, socket.lastIndexOf("/"));
    assert.ok(await exists(own));
    assert.equal(await exists(orphan), false, "an orphan folder was kept");
    assert.equal(await exists(reused), false, "a folder of a reused pid was kept");
    assert.equal(await exists(alive), true, "a live owner's folder was removed");
    assert.equal(await exists(unrecorded), true, "a folder with no owner record was removed");
  } finally {
    await s.close();
    await Deno.remove(alive, { recursive: true }).catch(() => {});
    await Deno.remove(unrecorded, { recursive: true }).catch(() => {});
  }
  assert.equal(await exists(own), false, "the server left its folder at stop");
});

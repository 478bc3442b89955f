/**
 * Cloudflare's runtime as a peer row: `workerd` (npm package `workerd`, run through npx so the
 * registry's platform binary is used) serving a Workers module that answers the same JSON as
 * the hello function, with its default configuration. Absent (no npx, no binary for this
 * platform, no registry), the bench prints a note and skips the row.
 */
import { freePort } from "../tests/helpers.ts";
import { sampleTree } from "../runtime/sandbox/host/proc.ts";

/** The workerd release the row is measured with (npm package `workerd`). */
const WORKERD_VERSION = "1.20261117.1";

const WORKER = `export default { fetch() { return Response.json({ hello: "world" }); } };\n`;

function capnp(port: number): string {
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .hello) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const hello :Workerd.Worker = (
  modules = [ (name = "worker", esModule = embed "worker.js") ],
  compatibilityDate = "2024-09-01",
);
`;
}

/** A running workerd: its URL and how to stop it. */
export interface Workerd {
  url: string;
  close(): Promise<void>;
}

/** Starts workerd on a free loopback port, or answers why it cannot run here. */
export async function startWorkerd(): Promise<Workerd | { skipped: string }> {
  const dir = await Deno.makeTempDir({ prefix: "bench-workerd-" });
  const port = freePort();
  await Deno.writeTextFile(`${dir}/worker.js`, WORKER);
  await Deno.writeTextFile(`${dir}/config.capnp`, capnp(port));
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("npx", {
      args: ["-y", `workerd@${WORKERD_VERSION}`, "serve", `${dir}/config.capnp`],
      stdout: "null",
      stderr: "null",
      cwd: dir,
    }).spawn();
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    return { skipped: `workerd could not start (${(error as Error).message})` };
  }
  const url = `http://127.0.0.1:${port}/`;
  const close = async () => {
    // npx's shim runs workerd as its child: end the whole tree, not just the shim.
    const tree = await sampleTree(child.pid);
    for (const pid of tree.processes.keys()) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* already gone */ }
    }
    await child.status;
    await Deno.remove(dir, { recursive: true });
  };
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const answer = await fetch(url).then((r) => r.text()).catch(() => null);
    if (answer?.includes("hello")) return { url, close };
    const exited = await Promise.race([
      child.status.then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 200)),
    ]);
    if (exited) {
      await Deno.remove(dir, { recursive: true });
      return { skipped: `workerd@${WORKERD_VERSION} exited before serving (no binary here?)` };
    }
  }
  await close();
  return { skipped: "workerd did not answer within 120 s" };
}

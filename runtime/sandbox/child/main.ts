/**
 * Entry of a sandbox process: bundled by the host into one script and started with no
 * permission but its IPC socket, no package or remote resolution, a private empty module
 * cache, a V8 heap cap and code generation from strings disabled. It connects to the host,
 * then gives up even the socket's permissions and locks its global scope down before any
 * deployment is loaded: the tenant's code runs on this main thread with nothing of the host in
 * reach, and the process (one per app environment) is the unit the host kills and measures.
 */
import { FrameWriter, socketChunks, socketSink } from "../frames.ts";
import type { SandboxMessage } from "../protocol.ts";
import { requestContext } from "./context.ts";
import { type RunningRequest, startRuntime } from "./runtime.ts";

/** Reads the whole of stdin: the host writes this process's token there, never in args or env. */
async function readToken(): Promise<string> {
  const text = await new Response(Deno.stdin.readable).text();
  return text.trim();
}

const socketPath = Deno.args[0] ?? "";
const token = await readToken();
const conn = await Deno.connect({ transport: "unix", path: socketPath });
// Permissions are per process: once connected, the socket is the only way out, and even it
// cannot be reopened.
for (const name of ["net", "read", "write"] as const) Deno.permissions.revokeSync({ name });

// Taken before the lockdown refuses it to functions.
const exit = Deno.exit;
const out = new FrameWriter(socketSink(conn));
out.send({ t: "hello", token } satisfies SandboxMessage);
const onBytes = startRuntime(out, await requestContext<RunningRequest>());
out.send({ t: "ready" } satisfies SandboxMessage);

for await (const chunk of socketChunks(conn)) onBytes(chunk);
// The host closed the socket: nothing left to serve.
exit(0);

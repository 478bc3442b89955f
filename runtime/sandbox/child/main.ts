/**
 * Entry of a sandbox process: bundled by the host into one script and started with no
 * permission but its IPC socket, no package or remote resolution, a private empty module
 * cache, a V8 heap cap and code generation from strings disabled. It boots its worker before
 * saying hello (so a spare process is warm before any app is assigned to it), then pumps
 * bytes: the process runs one deployment in one worker, so frames need no routing here and
 * are moved (transferred) both ways without being read.
 */
import { encodeFrame, FrameWriter } from "../frames.ts";
import type { SandboxMessage } from "../protocol.ts";

/** The worker bootstrap (runtime/sandbox/worker/main.ts), inlined by the host's bundler. */
declare const WORKER_SOURCE: string;

/** Reads the whole of stdin: the host writes this process's token there, never in args or env. */
async function readToken(): Promise<string> {
  const text = await new Response(Deno.stdin.readable).text();
  return text.trim();
}

const [socketPath] = Deno.args;
const token = await readToken();

const worker = new Worker(
  `data:text/javascript;charset=utf-8,${encodeURIComponent(WORKER_SOURCE)}`,
  { type: "module", deno: { permissions: "none" } },
);

// A spare is ready only once its worker has booted (its first frame says so): a cold app then
// pays a module load only.
const ready = await new Promise<Uint8Array>((resolve, reject) => {
  worker.onmessage = (event: MessageEvent<Uint8Array>) => resolve(event.data);
  worker.onerror = (event) => reject(new Error(`the worker failed to start: ${event.message}`));
});

const conn = await Deno.connect({ transport: "unix", path: socketPath });
const socket = conn.writable.getWriter();
const out = new FrameWriter((bytes) => socket.write(bytes));
out.send({ t: "hello", token } satisfies SandboxMessage);
out.sendEncoded(ready);

worker.onmessage = (event: MessageEvent<Uint8Array>) => out.sendEncoded(event.data);
worker.onerror = (event) => {
  event.preventDefault();
  const message = `worker error: ${event.message}`;
  out.sendEncoded(encodeFrame({ t: "log", id: null, level: "error", message }));
};

for await (const chunk of conn.readable) {
  worker.postMessage(chunk, [chunk.buffer]);
}
// The host closed the socket: nothing left to serve.
Deno.exit(0);

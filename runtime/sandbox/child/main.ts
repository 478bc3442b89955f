/**
 * Entry of a sandbox process: bundled by the host into one script and started with no
 * permission but its IPC socket, no package or remote resolution, a private empty module
 * cache, a V8 heap cap and code generation from strings disabled. It boots its worker before
 * saying hello (so a spare process is warm before any app is assigned to it), then relays frames:
 * host messages go to the worker by their header alone, bodies moved, never decoded.
 */
import { FrameReader, FrameWriter } from "../frames.ts";
import type { Envelope, HostMessage, SandboxMessage } from "../protocol.ts";

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

// A spare is ready only once its worker has booted: a cold app then pays a module load only.
await new Promise<void>((resolve, reject) => {
  worker.onmessage = () => resolve();
  worker.onerror = (event) => reject(new Error(`the worker failed to start: ${event.message}`));
});

const conn = await Deno.connect({ transport: "unix", path: socketPath });
const out = new FrameWriter(conn.writable);

worker.onmessage = (event: MessageEvent<Envelope<SandboxMessage>>) => {
  out.send(event.data.header, event.data.body);
};
worker.onerror = (event) => {
  event.preventDefault();
  out.send({ t: "log", id: null, level: "error", message: `worker error: ${event.message}` });
};

out.send({ t: "hello", token } satisfies SandboxMessage);
const reader = new FrameReader();
for await (const chunk of conn.readable) {
  for (const { header, body } of reader.push(chunk)) {
    // A body may share its buffer with other frames: move a copy of exactly its bytes.
    const own = body?.slice();
    worker.postMessage(
      { header: header as HostMessage, body: own } satisfies Envelope<HostMessage>,
      own ? [own.buffer] : [],
    );
  }
}
// The host closed the socket: nothing left to serve.
Deno.exit(0);

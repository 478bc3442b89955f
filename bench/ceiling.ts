/**
 * The ceiling of a process-per-app design on this machine: a `Deno.serve` that hands each
 * request to one child process over a Unix socket, with the platform's own frame codec and
 * batching, and answers what the child sends back. No routing, logging, limits or handler:
 * what is left is the least any design with a process between the client and the code pays.
 */
import { FrameReader, FrameWriter, socketChunks, socketSink } from "../runtime/sandbox/frames.ts";
import { IdTable } from "../runtime/sandbox/id_table.ts";

const CHILD = `
import { FrameReader, FrameWriter, socketChunks, socketSink } from ${
  JSON.stringify(new URL("../runtime/sandbox/frames.ts", import.meta.url).href)
};
const conn = await Deno.connect({ transport: "unix", path: Deno.args[0] });
const out = new FrameWriter(socketSink(conn));
const reader = new FrameReader();
const body = new TextEncoder().encode(JSON.stringify({ hello: "world" }));
for await (const chunk of socketChunks(conn)) {
  for (const { header } of reader.push(chunk)) out.send({ id: header.id }, body);
}
`;

/** A running ceiling server: its URL, and how to stop it and its child. */
export interface Ceiling {
  url: string;
  close(): Promise<void>;
}

/** Starts the ceiling server on a free loopback port. */
export async function startCeiling(): Promise<Ceiling> {
  const dir = await Deno.makeTempDir({ prefix: "bench-ceiling-" });
  const socketPath = `${dir}/wire.sock`;
  await Deno.writeTextFile(`${dir}/child.ts`, CHILD);
  const listener = Deno.listen({ transport: "unix", path: socketPath });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-config", "--no-lock", `${dir}/child.ts`, socketPath],
    stdout: "null",
  }).spawn();
  const conn = await listener.accept();
  const out = new FrameWriter(socketSink(conn));
  // Requests waiting for the child, by their number on the wire, as the platform keeps them.
  const waiting = new IdTable<(body: Uint8Array | undefined) => void>();
  void (async () => {
    const reader = new FrameReader();
    for await (const chunk of socketChunks(conn)) {
      for (const { header, body } of reader.push(chunk)) {
        const id = (header as { id: number }).id;
        waiting.get(id)?.(body);
        waiting.delete(id);
      }
    }
  })();
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async () => {
    const body = await new Promise<Uint8Array | undefined>((resolve) => {
      out.send({ id: waiting.add(resolve) });
    });
    return new Response(body as Uint8Array<ArrayBuffer>, {
      headers: { "content-type": "application/json" },
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    async close() {
      await server.shutdown();
      child.kill("SIGKILL");
      // The child's exit ends the read loop, which closes the socket.
      await child.status;
      listener.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

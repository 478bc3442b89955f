/**
 * The compile process's entry: reads one deploy at a time from stdin, pre-scans and bundles it
 * (compile.ts, with esbuild's service as its own child), and writes the result to stdout. The
 * host spawns it with no network, read access to esbuild's binary only and the right to run
 * that binary alone, and kills it past its memory, CPU or time budget (pool.ts).
 */
import { compile } from "../compile.ts";
import { CompileError } from "../diagnostic.ts";
import {
  type CompileReply,
  type CompileRequest,
  moduleText,
  type ReadyReply,
  sourceMapText,
} from "./protocol.ts";
import { encodeMessage, MessageReader } from "./wire.ts";

/** A first compile, so that esbuild's service runs and the compile path is warm before a deploy. */
const WARM_UP = { "api/warm.ts": "export default () => ({});" };

async function main(): Promise<void> {
  const writer = Deno.stdout.writable.getWriter();
  const reader = new MessageReader(Deno.stdin.readable);
  await compile(WARM_UP);
  const ready: ReadyReply = { ready: true };
  await writer.write(encodeMessage({ head: ready, texts: {} }));
  for (;;) {
    const message = await reader.next<CompileRequest>();
    if (!message) break;
    const { id } = message.head;
    let reply: CompileReply;
    let texts: Record<string, string> = {};
    try {
      const code = await compile(message.texts);
      reply = { id, ok: true, routes: code.routes };
      for (const [name, text] of Object.entries(code.modules)) texts[moduleText(name)] = text;
      for (const [name, text] of Object.entries(code.sourceMaps)) texts[sourceMapText(name)] = text;
    } catch (error) {
      texts = {};
      reply = error instanceof CompileError
        ? {
          id,
          ok: false,
          diagnostics: error.diagnostics,
          limit: error.limit,
          tooLarge: error.kind === "too-large",
        }
        : { id, ok: false, failure: String((error as Error)?.stack ?? error) };
    }
    await writer.write(encodeMessage({ head: reply, texts }));
  }
  // stdin closed: the host is done with this process (esbuild's service exits with it).
  Deno.exit(0);
}

await main();

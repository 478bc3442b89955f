/**
 * The containment baseline for `deno task bench`: the same compiled function, run by the same
 * worker bootstrap, in a permission-less Web Worker inside the serving process, with no
 * sandbox process between them. It shows what the per-app sandbox process costs; it is not
 * safe to serve with (a worker's heap exhaustion would abort this whole process).
 */
import { compile } from "../runtime/compile.ts";
import { toFunctionRequest } from "../runtime/request.ts";
import { toResponse } from "../runtime/response.ts";
import { buildWorkerBootstrap } from "../runtime/sandbox/bootstrap.ts";
import type { FunctionResult, SandboxMessage } from "../runtime/sandbox/protocol.ts";

/** Serves `files` from one in-process worker on a free port; returns its URL and a stop function. */
export async function startInProcess(files: Record<string, string>) {
  const code = await compile(files);
  const source = await buildWorkerBootstrap();
  const worker = new Worker(
    `data:text/javascript;charset=utf-8,${encodeURIComponent(source)}`,
    { type: "module", deno: { permissions: "none" } },
  );
  const pending = new Map<string, (result: FunctionResult) => void>();
  let loaded!: () => void;
  const ready = new Promise<void>((resolve) => loaded = resolve);
  worker.onmessage = (event: MessageEvent<SandboxMessage>) => {
    const message = event.data;
    if (message.t === "loaded") loaded();
    if (message.t === "result") {
      pending.get(message.id)?.(message.result);
      pending.delete(message.id);
    }
  };
  worker.postMessage({ t: "load", dep: "bench", modules: code.modules });
  await ready;
  let next = 0;
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    async (request) => {
      const route = code.routes.find((r) => new URL(request.url).pathname === r.pattern)!;
      const req = await toFunctionRequest(request, route.pattern, {}, 1024 * 1024);
      const id = String(next++);
      const result = await new Promise<FunctionResult>((resolve) => {
        pending.set(id, resolve);
        worker.postMessage({ t: "invoke", id, dep: "bench", file: route.file, req, env: {} });
      });
      return toResponse(result);
    },
  );
  return {
    url: (path: string) => `http://127.0.0.1:${server.addr.port}/functions${path}`,
    async close() {
      await server.shutdown();
      worker.terminate();
    },
  };
}

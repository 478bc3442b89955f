/**
 * What the compile-bomb tests watch while an attacker deploys: the pool's processes in /proc,
 * `/healthz` probed every 25 ms over a socket, and another tenant deploying meanwhile.
 */
import assert from "node:assert/strict";
import type { CompilerPool } from "../runtime/deploy/compiler/pool.ts";
import { appId, type TestServer } from "./helpers.ts";

/** One compile process of this test process, with its children (esbuild's service). */
export interface CompileTree {
  pid: number;
  rssBytes: number;
  children: number[];
}

function statOf(pid: number): { rssBytes: number } | null {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { rssBytes: Number(fields[21]) * 4096 };
  } catch {
    return null;
  }
}

/** The children of `pid`, from every one of its threads. */
function childrenOf(pid: number): number[] {
  try {
    return [...Deno.readDirSync(`/proc/${pid}/task`)].flatMap((task) =>
      Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/children`).split(" ")
        .filter((id) => id.trim()).map(Number)
    );
  } catch {
    return [];
  }
}

/** The processes of `pool`, each with its children and their memory, read from /proc. */
export function compileTrees(pool: CompilerPool): CompileTree[] {
  return pool.pids().filter((pid) => statOf(pid) !== null).map((pid) => {
    const children = childrenOf(pid);
    const rssBytes = [pid, ...children].reduce((sum, p) => sum + (statOf(p)?.rssBytes ?? 0), 0);
    return { pid, rssBytes, children };
  });
}

/** Whether a process is still there (a zombie counts as gone: it holds no memory or CPU). */
export function alive(pid: number): boolean {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return text.slice(text.lastIndexOf(")") + 2, text.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

export async function until(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Another tenant deploys and calls its function; fails unless both work within 3 s. */
export async function victimDeploys(s: TestServer): Promise<number> {
  const started = performance.now();
  const app = appId("victim");
  await s.deployOk(app, { "api/v.ts": "export default () => ({ body: 'ok' });" });
  assert.equal(await (await s.call(app, "/v")).text(), "ok");
  const ms = performance.now() - started;
  assert.ok(ms < 3000, `the other tenant's deploy took ${Math.round(ms)} ms`);
  return ms;
}

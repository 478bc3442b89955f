/**
 * Compile bombs, from the attacker's side: a tenant deploys source made to crash, hold or
 * freeze the compiler while another tenant deploys and `/healthz` is probed every 25 ms over a
 * socket. Each bomb costs the attacker's deploy only: it is refused with a 400 naming the limit,
 * the compile process it ran in is gone (read from /proc), the other tenant's deploy succeeds
 * within 3 s, and the host answers within 1 s throughout.
 */
import assert from "node:assert/strict";
import { CompilerPool, type CompilerPoolOptions } from "../runtime/deploy/compiler/pool.ts";
import { alive, type CompileTree, compileTrees, until, victimDeploys } from "./compile_probe.ts";
import { appId, json, probing, startServer } from "./helpers.ts";

/** What a refused deploy answers. */
interface Refusal {
  error: string;
  diagnostics: Array<{ file: string | null; line: number | null; column: number | null }>;
}

const OK = "export default () => ({ body: 'ok' });";

/** Operator chains the pre-scan refuses before any compiler sees them. */
const CHAINS: Array<[name: string, source: string, column: number, message: RegExp]> = [
  ["!×1,000,000", `export default () => ${"!".repeat(1_000_000)}1;`, 22, /prefix operators/],
  ["~×1,000,000", `export default () => ${"~".repeat(1_000_000)}1;`, 22, /prefix operators/],
  ["typeof×200,000", `export default () => ${"typeof ".repeat(200_000)}1;`, 22, /prefix/],
  ["void×200,000", `export default () => ${"void ".repeat(200_000)}1;`, 22, /prefix operators/],
  ["-×200,000", `export default () => ${"-".repeat(200_000)}1;`, 22, /prefix operators/],
  ["=a×1,000,000", `let a; a${"=a".repeat(1_000_000)};\nexport default () => a;`, 9, /chained/],
];

Deno.test("operator chains are refused by the pre-scan, naming where, as the host answers", async () => {
  const s = await startServer();
  try {
    for (const [name, source, column, message] of CHAINS) {
      const { result, slowestMs } = await probing(s, "/healthz", async () => {
        const [refused, victimMs] = await Promise.all([
          s.deploy(appId("bomber"), { "api/x.ts": source }),
          victimDeploys(s),
        ]);
        return { body: await json<Refusal>(refused, 400), victimMs };
      });
      assert.match(result.body.error, message, name);
      assert.match(result.body.error, /more than 1000 /);
      assert.deepEqual(result.body.diagnostics[0], {
        file: "api/x.ts",
        line: 1,
        column,
        message: result.body.error.replace(/^deploy refused: api\/x\.ts:1:\d+: /, ""),
      });
      console.log(
        `  ${name}: refused; /healthz slowest ${Math.round(slowestMs)} ms, ` +
          `other deploy ${Math.round(result.victimMs)} ms`,
      );
    }
  } finally {
    await s.close();
  }
});

Deno.test("a chain the pre-scan lets through is killed at 512 MB: the attacker's deploy only", async () => {
  const s = await startServer();
  try {
    const bomber = appId("bomber");
    let bombTree: CompileTree | undefined;
    const { result, slowestMs } = await probing(s, "/healthz", async () => {
      const bomb = s.deploy(bomber, {
        "api/x.ts": `export default () => ${"a?a:".repeat(200_000)}1;`,
      });
      const order: string[] = [];
      void bomb.then(() => order.push("bomb"));
      await until("the bomb to grow past 300 MB", () => {
        bombTree = compileTrees(s.platform.compiler).find((t) => t.rssBytes > 300 * 1024 * 1024);
        return bombTree !== undefined;
      }, 10_000);
      // Sent once the bomb is compiling (sent at once, its small body could reach the compile
      // queue first): the same app's next deploy waits its turn behind the bomb, then compiles.
      const next = s.deploy(bomber, { "api/x.ts": OK });
      void next.then(() => order.push("next"));
      const victimMs = await victimDeploys(s);
      const refused = await json<Refusal>(await bomb, 400);
      await json(await next, 201);
      return { refused, victimMs, order };
    });
    assert.match(
      result.refused.error,
      /compiling used \d+ MB of memory, over the compile memory limit of 512 MB/,
    );
    assert.deepEqual(result.order, ["bomb", "next"]);
    assert.ok(bombTree && bombTree.children.length > 0, "the bomb ran in esbuild's service");
    await until(
      "the bomb's processes to be gone",
      () => [bombTree!.pid, ...bombTree!.children].every((pid) => !alive(pid)),
    );
    assert.equal(await (await s.call(bomber, "/x")).text(), "ok");
    const entries = await s.logs(bomber, "level=warn");
    assert.ok(entries.some((e) => /compile memory limit of 512 MB/.test(e.message)));
    console.log(
      `  a?a:×200,000: killed; /healthz slowest ${Math.round(slowestMs)} ms, ` +
        `other deploy ${Math.round(result.victimMs)} ms`,
    );
  } finally {
    const left = compileTrees(s.platform.compiler).flatMap((t) => [t.pid, ...t.children]);
    await s.close();
    assert.ok(left.length > 0);
    assert.deepEqual(left.filter(alive), [], "platform.close() left a compile process behind");
  }
});

Deno.test("the 4.9 MB nested-require deploy that froze the host 5.7 s is answered at once", async () => {
  const s = await startServer();
  try {
    const depth = 400;
    const filler = "x;".repeat((4.9 * 1024 * 1024 - depth * 20) / 2);
    const source = `${"require(".repeat(depth)}${filler}${") {}".repeat(depth)}`;
    const { result, slowestMs } = await probing(s, "/healthz", async () => {
      const [refused, victimMs] = await Promise.all([
        s.deploy(appId("bomber"), { "api/x.ts": source }),
        victimDeploys(s),
      ]);
      return { body: await json<Refusal>(refused, 400), victimMs };
    });
    assert.equal(result.body.diagnostics[0]!.file, "api/x.ts");
    console.log(
      `  nested require( ×${depth}, 4.9 MB: refused; /healthz slowest ${Math.round(slowestMs)} ` +
        `ms, other deploy ${Math.round(result.victimMs)} ms`,
    );
  } finally {
    await s.close();
  }
});

/** A server whose compile processes have the given budgets and settings. */
async function serverWith(
  budgets: Partial<CompilerPoolOptions["budgets"]>,
  options: Partial<Omit<CompilerPoolOptions, "budgets">> = {},
) {
  const compiler = new CompilerPool({
    size: 2,
    budgets: { memoryMb: 512, cpuMs: 10_000, wallMs: 15_000, ...budgets },
    maxWaitingPerApp: 16,
    watchMs: 25,
    idleMs: 60_000,
    ...options,
  });
  return await startServer({ parts: { compiler } });
}

Deno.test("a compile past its wall clock is killed; a same-app deploy queues, one more is 429", async () => {
  const s = await serverWith({ wallMs: 1500 }, { maxWaitingPerApp: 1 });
  try {
    const app = appId("stalled");
    await s.deployOk(app, { "api/x.ts": OK });
    const [stalled] = compileTrees(s.platform.compiler);
    // The attacker's compile never finishes: its esbuild service is stopped.
    for (const pid of stalled!.children) Deno.kill(pid, "SIGSTOP");
    const { result } = await probing(s, "/healthz", async () => {
      const held = s.deploy(app, { "api/x.ts": OK });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const waiting = s.deploy(app, { "api/x.ts": OK });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const refused = await s.deploy(app, { "api/x.ts": OK });
      const victimMs = await victimDeploys(s);
      return { held: await held, waiting: await waiting, refused, victimMs };
    });
    const tooMany = await json(result.refused, 429);
    assert.match(String(tooMany.error), /already has 1 deploys waiting to compile/);
    assert.equal(result.refused.headers.get("retry-after"), "1");
    const held = await json<Refusal>(result.held, 400);
    assert.match(held.error, /compiling took over 1\.5 s, the compile time limit/);
    await json(result.waiting, 201);
    await until(
      "the stalled processes to be gone",
      () => [stalled!.pid, ...stalled!.children].every((pid) => !alive(pid)),
    );
  } finally {
    await s.close();
  }
});

Deno.test("a compile past its CPU budget is killed and refused naming it", async () => {
  const s = await serverWith({ cpuMs: 100 });
  try {
    const big = Array.from({ length: 60_000 }, (_, i) => `export const f${i} = (a) => a * ${i};`);
    const response = await s.deploy(appId("heavy"), {
      "api/x.ts":
        `import * as lib from "../lib/big.js";\nexport default () => ({ body: lib.f1(2) });`,
      "lib/big.js": big.join("\n"),
    });
    const body = await json<Refusal>(response, 400);
    assert.match(body.error, /compiling used over 0\.1 s of CPU, the compile CPU limit/);
    await victimDeploys(s);
  } finally {
    await s.close();
  }
});

Deno.test("a compile process runs esbuild only, at nice 10, with no network and no host secret", async () => {
  // A secret in the host's environment, as API_KEY or UPSTASH_REDIS_REST_TOKEN would be.
  Deno.env.set("COMPILE_TEST_SECRET", "s3cret");
  const s = await startServer();
  try {
    await s.deployOk(appId("plain"), { "api/x.ts": OK });
    const [tree] = compileTrees(s.platform.compiler);
    assert.ok(tree && tree.children.length === 1, "one compile process, esbuild below it");
    const args = Deno.readTextFileSync(`/proc/${tree.pid}/cmdline`).split("\0");
    const esbuild = Deno.readLinkSync(`/proc/${tree.children[0]}/exe`);
    const allows = args.filter((a) => a.startsWith("--allow") || a === "-A");
    assert.deepEqual(allows.sort(), [
      "--allow-env",
      `--allow-read=${esbuild}`,
      `--allow-run=${esbuild}`,
    ]);
    const environ = (pid: number) =>
      Deno.readTextFileSync(`/proc/${pid}/environ`).split("\0").filter(Boolean);
    for (const pid of [tree.pid, tree.children[0]!]) {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      const nice = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
      assert.equal(nice, 10, `process ${pid} runs below the host's priority`);
      const env = environ(pid);
      assert.ok(env.includes("GOMAXPROCS=1"), env.join(" "));
      assert.deepEqual(env.filter((v) => v.includes("s3cret")), [], `the secret reached ${pid}`);
    }
  } finally {
    await s.close();
    Deno.env.delete("COMPILE_TEST_SECRET");
  }
});

Deno.test("an idle compile process is stopped, and the next deploy starts one", async () => {
  const s = await serverWith({}, { idleMs: 200 });
  try {
    assert.deepEqual(compileTrees(s.platform.compiler), [], "none runs before a deploy");
    await s.deployOk(appId("idle"), { "api/x.ts": OK });
    const [first] = compileTrees(s.platform.compiler);
    assert.ok(first);
    await until(
      "the idle process to stop",
      () => !alive(first.pid) && first.children.every((p) => !alive(p)),
    );
    // The pool lets the process go when it hears of its exit, a moment after the kernel does.
    await until(
      "the pool to let the stopped process go",
      () => compileTrees(s.platform.compiler).length === 0,
    );
    assert.deepEqual(compileTrees(s.platform.compiler), []);
    await s.deployOk(appId("idle"), { "api/x.ts": OK });
    assert.equal(compileTrees(s.platform.compiler).length, 1);
  } finally {
    await s.close();
  }
});

/** Sends a deploy to a server with no compile process yet, and answers the one it starts. */
async function deployToStartingCompiler(
  s: Awaited<ReturnType<typeof serverWith>>,
  app: string,
): Promise<{ response: Promise<Response>; pid: number }> {
  assert.deepEqual(s.platform.compiler.pids(), [], "no compile process before the deploy");
  const response = s.deploy(app, { "api/x.ts": OK });
  let pid: number | undefined;
  await until("the compile process to start", () => {
    pid = s.platform.compiler.pids()[0];
    return pid !== undefined;
  });
  return { response, pid: pid! };
}

Deno.test("a compile process that dies while it starts refuses the deploy 503, and the host serves on", async () => {
  const s = await serverWith({});
  try {
    const { response, pid } = await deployToStartingCompiler(s, appId("dies"));
    Deno.kill(pid, "SIGKILL");
    const body = await json<Refusal>(await response, 503);
    assert.match(body.error, /the compile process exited as it started/);
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
    await victimDeploys(s);
  } finally {
    await s.close();
  }
});

Deno.test("a compile process that hangs while it starts is killed past its start deadline, the deploy refused 503", async () => {
  const s = await serverWith({ startMs: 1500 });
  try {
    const { response, pid } = await deployToStartingCompiler(s, appId("hangs"));
    Deno.kill(pid, "SIGSTOP");
    const body = await json<Refusal>(await response, 503);
    assert.match(body.error, /the compile process did not start within 1\.5 s/);
    await until("the stopped process to be gone", () => !alive(pid));
    await victimDeploys(s);
  } finally {
    await s.close();
  }
});

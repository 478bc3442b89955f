/**
 * The compile bombs timed against another tenant's deploy, serial so that no other test file
 * competes for the cores: operator chains and a nested-require deploy the pre-scan refuses, every right-recursive chain it
 * lets through killed at the compile memory budget (one, and two attackers at once filling both
 * compile processes); another tenant's deploy still succeeds within 3 s while `/healthz`
 * answers within 1 s.
 */
import assert from "node:assert/strict";
import { alive, type CompileTree, compileTrees, until, victimDeploys } from "../compile_probe.ts";
import { appId, json, probing, startServer } from "../helpers.ts";

/** What a refused deploy answers. */
interface Refusal {
  error: string;
  diagnostics: Array<{ file: string | null; line: number | null; column: number | null }>;
}

const OK = "export default () => ({ body: 'ok' });";

/** Operator chains the pre-scan refuses before any compiler sees them. */
const OPERATOR_CHAINS: Array<[name: string, source: string, column: number, message: RegExp]> = [
  ["!×1,000,000", `export default () => ${"!".repeat(1_000_000)}1;`, 22, /prefix operators/],
  ["~×1,000,000", `export default () => ${"~".repeat(1_000_000)}1;`, 22, /prefix operators/],
  ["typeof×200,000", `export default () => ${"typeof ".repeat(200_000)}1;`, 22, /prefix/],
  ["void×200,000", `export default () => ${"void ".repeat(200_000)}1;`, 22, /prefix operators/],
  ["-×200,000", `export default () => ${"-".repeat(200_000)}1;`, 22, /prefix operators/],
  ["=a×1,000,000", `let a; a${"=a".repeat(1_000_000)};\nexport default () => a;`, 9, /chained/],
];

/** Chains esbuild's parser recurses on that no pre-scan rule names: the budget stops them. */
const CHAINS: Array<[name: string, source: string]> = [
  ["a=>×200,000", `export default ${"a=>".repeat(200_000)}1;`],
  ["a**×200,000", `export default () => ${"a**".repeat(200_000)}1;`],
  ["if(a)×200,000", `${"if(a)".repeat(200_000)};\nexport default () => 1;`],
  [
    "200,000 labels",
    `${Array.from({ length: 200_000 }, (_, i) => `l${i}:`).join("")};\nexport default () => 1;`,
  ],
];

Deno.test("two attackers' chains at once are killed at 512 MB while another tenant deploys", async () => {
  const s = await startServer();
  try {
    for (let i = 0; i < CHAINS.length; i += 2) {
      const pair = CHAINS.slice(i, i + 2);
      const pids = new Set<number>();
      const { result, slowestMs } = await probing(s, "/healthz", async () => {
        const bombs = pair.map(([, source]) => s.deploy(appId("bomber"), { "api/x.ts": source }));
        let watching = true;
        const watch = (async () => {
          while (watching) {
            for (const tree of compileTrees(s.platform.compiler)) {
              for (const pid of [tree.pid, ...tree.children]) pids.add(pid);
            }
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        })();
        await new Promise((resolve) => setTimeout(resolve, 200));
        // Both compile processes may be busy: the other tenant waits for the first to free.
        const victimMs = await victimDeploys(s);
        const answers = await Promise.all(bombs);
        watching = false;
        await watch;
        return { answers, victimMs };
      });
      const names = pair.map(([name]) => name).join(" and ");
      for (const [n, response] of result.answers.entries()) {
        const body = await response.text();
        assert.equal(response.status, 400, body);
        assert.match(body, /over the compile memory limit of 512 MB/, pair[n]![0]);
      }
      await until("the bombs' processes to be gone", () => {
        const now = new Set(
          compileTrees(s.platform.compiler).flatMap((t) => [t.pid, ...t.children]),
        );
        return [...pids].every((pid) => now.has(pid) || !alive(pid));
      });
      console.log(
        `  ${names}: ${result.answers.map((r) => r.status).join(", ")}; /healthz slowest ` +
          `${Math.round(slowestMs)} ms, other deploy ${Math.round(result.victimMs)} ms`,
      );
    }
    await json(await s.deploy(appId("after"), { "api/x.ts": "export default () => ({});" }), 201);
  } finally {
    await s.close();
  }
});

Deno.test("operator chains are refused by the pre-scan, naming where, as the host answers", async () => {
  const s = await startServer();
  try {
    for (const [name, source, column, message] of OPERATOR_CHAINS) {
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

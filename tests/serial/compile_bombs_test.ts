/**
 * The heavier compile bombs, serial so that no other test file competes for the cores: every
 * right-recursive chain the pre-scan lets through is killed at the compile memory budget, two
 * attackers bombing at once fill both compile processes, and another tenant's deploy still
 * succeeds within 3 s while `/healthz` answers within 1 s.
 */
import assert from "node:assert/strict";
import { alive, compileTrees, until, victimDeploys } from "../compile_probe.ts";
import { appId, json, probing, startServer } from "../helpers.ts";

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

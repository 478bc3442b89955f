/**
 * The CPU per app budget (README "Budgets"), from the attacker's side: one app spins the CPU
 * from many requests in four environments (four processes, more than this machine's cores);
 * its sandboxes are read from /proc to be throttled (nice 19) while another app, probed every
 * 25 ms, answers within 1 s, and they are let go once it stops.
 */
import assert from "node:assert/strict";
import { appId, probing, startServer, victimPath, waitFor } from "../helpers.ts";

/** The niceness of process `pid` (field 19 of /proc/<pid>/stat), or null when it is gone. */
async function niceOf(pid: number): Promise<number | null> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => null);
  if (stat === null) return null;
  // Counted from field 3 (state), after the command name's closing parenthesis.
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
}

Deno.test("an app spinning the CPU in many requests is throttled to the lowest priority while another app answers within 1 s", async () => {
  const s = await startServer({ env: { FUNCTION_TIMEOUT_MS: "5000" } });
  try {
    const hog = appId("spin");
    const spin = `export default () => {
      const end = Date.now() + 300;
      while (Date.now() < end) { /* spin */ }
      return { body: "spun" };
    };`;
    const environments = ["production", "spin1", "spin2", "spin3"];
    const ids: string[] = [];
    for (const environment of environments) {
      ids.push((await s.deployOk(hog, { "api/spin.ts": spin }, { environment })).id);
    }
    const path = (environment: string) =>
      environment === "production"
        ? `/apps/${hog}/functions/spin`
        : `/apps/${hog}/env/${environment}/functions/spin`;
    const victim = await victimPath(s);
    const hogNices = async () =>
      await Promise.all(ids.map((id) => {
        const pid = s.platform.sandboxes.pidOf(id);
        return pid === null ? null : niceOf(pid);
      }));
    const seen = new Set<number | null>();
    const { slowestMs } = await probing(s, victim, async () => {
      const until = performance.now() + 5000;
      const clients = environments.flatMap((environment) =>
        [0, 1].map(async () => {
          while (performance.now() < until) {
            const response = await s.request(path(environment));
            await response.body?.cancel();
          }
        })
      );
      const watch = (async () => {
        while (performance.now() < until) {
          for (const nice of await hogNices()) seen.add(nice);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })();
      await Promise.all([...clients, watch]);
    });
    assert.ok(seen.has(19), `the spinning app's sandboxes were throttled: nices ${[...seen]}`);
    assert.ok(slowestMs < 1000, `the other app answered within 1 s (${Math.round(slowestMs)} ms)`);
    const victimDeployment = (await s.api(`/apps/${victim.split("/")[2]}/deployments`)
      .then((r) => r.json())).deployments[0].id;
    assert.equal(await niceOf(s.platform.sandboxes.pidOf(victimDeployment)!), 10);
    const logged = await s.logs(hog, "level=warn");
    assert.ok(
      logged.some((e) =>
        /CPU per app: app ".+"'s sandboxes used \d+% of the \d+ CPUs/.test(e.message)
      ),
      `the throttling was logged for the app: ${JSON.stringify(logged.map((e) => e.message))}`,
    );
    await waitFor("the app's sandboxes to be let go once it stopped", async () => {
      return (await hogNices()).every((nice) => nice === 10);
    }, 5000);
  } finally {
    await s.close();
  }
});

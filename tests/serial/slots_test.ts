/**
 * Sandbox slots per app, from the attacker's side: one app saturates its share from eight
 * environments (as many as MAX_SANDBOXES) (handlers that sleep, `waitUntil` work that holds its sandbox, a cron job every
 * second in each environment) while another app is probed every 25 ms and must answer within
 * 1 s, and an admin deploys and rolls back a third app and redeploys the attacker. After a
 * restart on the same data (the jobs are persisted) the platform is not wedged. Serial: it keeps
 * many sandboxes busy at once.
 */
import assert from "node:assert/strict";
import { appId, json, startServer, type TestServer } from "../helpers.ts";

const ENV = {
  MAX_SANDBOXES: "8",
  FUNCTION_TIMEOUT_MS: "3000",
  APP_MAX_IN_FLIGHT: "24",
};
/** A quarter of MAX_SANDBOXES. */
const SHARE = 2;
/** As many environments as there are slots: without shares, they would take them all. */
const ENVIRONMENTS = ["production", "e1", "e2", "e3", "e4", "e5", "e6", "e7"];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const ATTACKER = {
  "api/sleep.ts": `export default async () => {
    await new Promise((r) => setTimeout(r, 2500));
    return { body: "slept" };
  };`,
  "api/hold.ts": `export default (ctx) => {
    ctx.waitUntil(new Promise((r) => setTimeout(r, 2500)));
    return { body: "held" };
  };`,
  "api/tick.ts": `export const schedule = { cron: "* * * * * *", environments: ${
    JSON.stringify(ENVIRONMENTS)
  } };
  export default async () => {
    await new Promise((r) => setTimeout(r, 2500));
    return { body: "ticked" };
  };`,
};

/** Probes `path` over a socket every 25 ms until `stop` resolves; answers each probe's status and time. */
async function probe(
  s: TestServer,
  path: string,
  stop: Promise<unknown>,
  sample: () => void,
): Promise<Array<{ status: number; ms: number }>> {
  const probes: Array<{ status: number; ms: number }> = [];
  let done = false;
  void stop.finally(() => done = true);
  while (!done) {
    const started = performance.now();
    const response = await fetch(`${s.url}${path}`);
    await response.body?.cancel();
    probes.push({ status: response.status, ms: performance.now() - started });
    sample();
    await sleep(25);
  }
  return probes;
}

Deno.test({
  name: "one app saturating its sandbox share leaves other apps answering and admins deploying",
  // The second server's start is checked against the same data folder; both are closed here.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "fn-slots-" });
    let s = await startServer({ env: ENV, dataDir });
    const [attacker, victim, third] = [appId("attacker"), appId("victim"), appId("third")];
    try {
      assert.equal(s.platform.sandboxes.shareLimits.perApp, SHARE);
      await s.deployOk(victim, { "api/ok.ts": `export default () => ({ body: "ok" });` });
      await s.deployOk(third, { "api/v.ts": `export default () => ({ body: "v1" });` });
      for (const environment of ENVIRONMENTS) {
        await s.deployOk(attacker, ATTACKER, { environment });
      }
      const base = (environment: string) =>
        environment === "production" ? `/apps/${attacker}` : `/apps/${attacker}/env/${environment}`;

      const attacks: Array<Promise<Response>> = [];
      let mostHeld = 0;
      let sampling = true;
      const attack = (async () => {
        for (let round = 0; round < 40; round++) {
          for (const environment of ENVIRONMENTS) {
            const route = round % 2 === 0 ? "sleep" : "hold";
            attacks.push(s.request(`${base(environment)}/functions/${route}`));
          }
          await sleep(100);
        }
      })();
      const admin = (async () => {
        await sleep(1500);
        await s.deployOk(third, { "api/v.ts": `export default () => ({ body: "v2" });` });
        assert.equal(await (await s.call(third, "/v")).text(), "v2");
        const rolledBack = await s.api(`/apps/${third}/environments/production/rollback`, {
          json: {},
        });
        assert.equal(rolledBack.status, 200, await rolledBack.clone().text());
        assert.equal(await (await s.call(third, "/v")).text(), "v1");
        sampling = false;
        // The attacker's own environment can be redeployed (without its cron job) meanwhile.
        await s.deployOk(attacker, { "api/sleep.ts": ATTACKER["api/sleep.ts"] }, {
          environment: "e5",
        });
      })();
      const probes = await probe(
        s,
        `/apps/${victim}/functions/ok`,
        Promise.all([attack, admin]),
        () => {
          if (sampling) mostHeld = Math.max(mostHeld, s.platform.sandboxes.heldBy(attacker));
        },
      );
      await Promise.all([attack, admin]);

      // The victim answered every probe, each within 1 s.
      assert.ok(probes.length > 20, `only ${probes.length} probes ran`);
      assert.deepEqual([...new Set(probes.map((p) => p.status))], [200]);
      const slowest = Math.max(...probes.map((p) => p.ms));
      assert.ok(slowest < 1000, `the victim's slowest probe took ${Math.round(slowest)} ms`);
      assert.ok(
        mostHeld <= SHARE,
        `the attacker held ${mostHeld} slots, past its share of ${SHARE}`,
      );

      // The attacker was answered 503 naming its budgets, with Retry-After.
      const responses = await Promise.all(attacks);
      const refused = responses.filter((r) => r.status === 503);
      const served = responses.filter((r) => r.status === 200);
      assert.ok(served.length > 0, "the attacker's share served nothing");
      assert.ok(refused.length > 0, "nothing of the attacker was refused");
      const messages = new Set<string>();
      for (const response of refused) {
        assert.equal(response.headers.get("retry-after"), "1");
        const error = String((await response.json()).error);
        messages.add(error.replace(/: .*/, ""));
      }
      for (const response of served) await response.body?.cancel();
      assert.ok(messages.has("sandbox slots per app"), [...messages].join(", "));
      assert.ok(messages.has("requests in flight per app"), [...messages].join(", "));

      // Each budget is logged once in its window, with no request entry per refusal.
      const slots = await s.logs(attacker, "q=sandbox slots per app&limit=100");
      assert.equal(slots.filter((e) => e.type === "event").length, 1);
      assert.match(slots[0]!.message, /its share of 2 .*refusal/);
      const inFlight = await s.logs(attacker, "q=requests in flight per app&limit=100");
      assert.equal(inFlight.length, 1);
      const requests503 = await s.logs(attacker, "type=request&limit=1000");
      assert.equal(requests503.filter((e) => e.status === 503).length, 0);

      // Cron ticks that found the share full were skipped and recorded, not queued.
      const { schedules } = await json<
        { schedules: Array<{ history: Array<Record<string, string>> }> }
      >(
        await s.api(`/apps/${attacker}/schedules`),
        200,
      );
      const skipped = schedules.flatMap((job) => job.history)
        .filter((run) => run.outcome === "skipped" && /per app/.test(run.error ?? ""));
      assert.ok(skipped.length > 0, "no cron tick was skipped for the app's share");

      // A restart on the same data (the jobs are persisted) comes back answering everyone.
      await s.close();
      s = await startServer({ env: ENV, dataDir });
      const started = performance.now();
      assert.equal(await (await s.call(victim, "/ok")).text(), "ok");
      assert.ok(performance.now() - started < 1000);
      await sleep(1500);
      assert.equal(await (await s.call(victim, "/ok")).text(), "ok");
      await s.deployOk(third, { "api/v.ts": `export default () => ({ body: "v3" });` });
    } finally {
      await s.close();
    }
  },
});

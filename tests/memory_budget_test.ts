/**
 * The sandboxes' memory budget (README "Budgets"), from outside: sandboxes are admitted by the
 * resident memory they are measured to hold (read here from /proc), not by reserving each one's
 * cap; past the budget idle ones are evicted, and the largest busy one is killed.
 */
import assert from "node:assert/strict";
import { appId, startServer, waitFor } from "./helpers.ts";
import { sampleProcess } from "../runtime/sandbox/host/proc.ts";

const MB = 1024 * 1024;

/** Resident memory of the given processes together, read from /proc, in MB. */
async function rssMb(pids: number[]): Promise<number> {
  let bytes = 0;
  for (const pid of pids) bytes += (await sampleProcess(pid))?.rssBytes ?? 0;
  return bytes / MB;
}

Deno.test("sandboxes are admitted by their measured memory, more than their caps would allow", async () => {
  // 400 MB for every sandbox, 192 MB a sandbox: reserving caps would hold 2; hello apps hold
  // about 40 MB each, so more fit, and the rest are evicted least recently used first.
  const s = await startServer({
    env: {
      FUNCTION_MEMORY_MB: "64",
      SANDBOX_MEMORY_MB: "192",
      SANDBOX_MEMORY_TOTAL_MB: "400",
      MAX_SANDBOXES: "50",
    },
  });
  try {
    const apps = Array.from({ length: 10 }, (_, i) => appId(`dense${i}`));
    let peakMb = 0;
    let peakLive = 0;
    for (const app of apps) {
      await s.deployOk(app, { "api/who.ts": `export default () => ({ body: "${app}" });` });
      assert.equal(await (await s.call(app, "/who")).text(), app);
      // Let the watchdog read the new process before the next one is admitted.
      await new Promise((resolve) => setTimeout(resolve, 150));
      peakMb = Math.max(peakMb, await rssMb(s.platform.sandboxes.pids()));
      peakLive = Math.max(peakLive, s.platform.sandboxes.stats().live);
    }
    for (const app of apps) assert.equal(await (await s.call(app, "/who")).text(), app);
    const stats = s.platform.sandboxes.stats();
    assert.ok(peakLive > 2, `more than two sandboxes at their 192 MB caps were live (${peakLive})`);
    assert.ok(peakMb <= 400, `the sandboxes held ${peakMb.toFixed(0)} MB, over their 400 MB`);
    assert.ok(
      (stats.stops.evicted ?? 0) > 0,
      `idle sandboxes were evicted: ${JSON.stringify(stats)}`,
    );
  } finally {
    await s.close();
  }
});

Deno.test("past the memory budget the largest busy sandbox is killed, naming the budget, and others answer", async () => {
  const s = await startServer({
    env: {
      FUNCTION_MEMORY_MB: "128",
      SANDBOX_MEMORY_MB: "400",
      SANDBOX_MEMORY_TOTAL_MB: "600",
    },
  });
  try {
    // Each hog holds 320 MB outside the V8 heap, under its own 400 MB cap: one of them and the
    // rest stay under the 540 MB that admits new sandboxes, two pass the 600 MB all may hold
    // together by over 100 MB (with 224 MB each the margin was a few MB of baseline RSS).
    const hog = `export default async () => {
      const held = [];
      for (let i = 0; i < 20; i++) {
        held.push(new Uint8Array(16 * 1024 * 1024).fill(1));
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise((r) => setTimeout(r, 2000));
      return { body: held.length };
    };`;
    const [first, second, calm] = [appId("hog1"), appId("hog2"), appId("calm")];
    await s.deployOk(first, { "api/hog.ts": hog });
    await s.deployOk(second, { "api/hog.ts": hog });
    await s.deployOk(calm, { "api/ok.ts": "export default () => ({ body: 'calm' });" });
    const one = s.call(first, "/hog");
    await waitFor("the first hog to hold its memory", async () => {
      const pid = s.platform.sandboxes.pidOf(
        (await s.api(`/apps/${first}/deployments`).then(
          (r) => r.json(),
        )).deployments[0].id,
      );
      return pid !== null && await rssMb([pid]) > 300;
    }, 5000);
    const two = s.call(second, "/hog");
    const answers = await Promise.all([one, two]);
    const bodies = await Promise.all(answers.map((r) => r.json()));
    const killed = answers.filter((r) => r.status === 502);
    assert.equal(killed.length, 1, `one hog was killed: ${JSON.stringify(bodies)}`);
    assert.match(
      String(bodies[answers.indexOf(killed[0]!)].error),
      /sandboxes together held \d+ MB, over their budget of 600 MB \(SANDBOX_MEMORY_TOTAL_MB\); this sandbox, the largest busy one \(\d+ MB\), was stopped/,
    );
    assert.equal(await (await s.call(calm, "/ok")).text(), "calm");
    assert.equal(s.platform.sandboxes.stats().stops["memory-guard"], 1);
  } finally {
    await s.close();
  }
});

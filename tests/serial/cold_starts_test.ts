/**
 * The cold-start budget (README "Budgets"), from an anonymous client's side: calls round-robin
 * over more apps than there are sandbox slots make every call a cold start; cold starts are
 * admitted at a bounded rate, so a warm app's p90 stays within 2× of its baseline, measured in
 * the same run (many samples, before and during), and the refused calls name the budget.
 */
import assert from "node:assert/strict";
import { appId, startServer } from "../helpers.ts";

function p90(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length * 0.9)]!;
}

/** Latencies of `count` sequential calls of `url` 2 ms apart, in ms; each must answer 200. */
async function latencies(url: string, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    await new Promise((resolve) => setTimeout(resolve, 2));
    const started = performance.now();
    const response = await fetch(url);
    await response.arrayBuffer();
    assert.equal(response.status, 200, `the warm app answered ${response.status}`);
    out.push(performance.now() - started);
  }
  return out;
}

Deno.test("a round-robin of anonymous cold calls over more apps than slots keeps a warm app's p90 within 2x", async () => {
  // Default settings but for 8 slots, so 24 apps round-robin make every call a cold start.
  const s = await startServer({ env: { MAX_SANDBOXES: "8" } });
  try {
    const apps = Array.from({ length: 24 }, (_, i) => appId(`cold${i}`));
    for (const app of apps) {
      await s.deployOk(app, { "api/hi.ts": `export default () => ({ body: "${app}" });` });
    }
    const victim = appId("warm");
    await s.deployOk(victim, { "api/ok.ts": "export default () => ({ body: 'ok' });" });
    const url = `${s.url}/apps/${victim}/functions/ok`;
    await latencies(url, 200); // warm: JIT, connections
    const beforeP90 = p90(await latencies(url, 800));
    const before = s.platform.sandboxes.stats().coldStarts;
    let running = true;
    const statuses: Record<number, number> = {};
    const refusals = new Set<string>();
    let next = 0;
    const attackStarted = performance.now();
    const attackers = Array.from({ length: 8 }, async () => {
      while (running) {
        const app = apps[next++ % apps.length]!;
        const response = await fetch(`${s.url}/apps/${app}/functions/hi`);
        const text = await response.text();
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
        if (response.status === 503) refusals.add(JSON.parse(text).error);
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const during = p90(await latencies(url, 1200));
    running = false;
    await Promise.all(attackers);
    const attackSeconds = (performance.now() - attackStarted) / 1000;
    const coldStarts = s.platform.sandboxes.stats().coldStarts - before;
    // The baseline is the slower of before and after: the machine's other load moves, not the attack.
    const baseline = Math.max(beforeP90, p90(await latencies(url, 800)));
    console.log(
      `warm p90 ${baseline.toFixed(2)} ms before, ${during.toFixed(2)} ms during; ` +
        `${coldStarts} cold starts; attack statuses ${JSON.stringify(statuses)}`,
    );
    assert.ok(coldStarts > 20, `the attack made cold starts (${coldStarts})`);
    const { perSecond, burst } = s.platform.sandboxes.coldStartLimits;
    assert.ok(
      coldStarts <= burst + perSecond * (attackSeconds + 1),
      `cold starts were admitted at most ${perSecond} a second (${coldStarts} in ${attackSeconds} s)`,
    );
    assert.ok(
      during <= 2 * baseline,
      `the warm app's p90 went from ${baseline.toFixed(2)} to ${during.toFixed(2)} ms`,
    );
    for (const message of refusals) {
      assert.match(message, /^cold starts: sandboxes are started at most \d+ a second|slots/);
    }
  } finally {
    await s.close();
  }
});

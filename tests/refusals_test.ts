/**
 * Budget refusals from the attacker's side: an app past its requests in flight is answered 503
 * naming the budget and the figure (another app still answers), and refusals, by the rate
 * limiter or a share, write one log entry per window and budget with a count, never one per
 * refusal, so anonymous traffic cannot flush an app's log history.
 */
import assert from "node:assert/strict";
import { appId, json, serverTest, startServer } from "./helpers.ts";

Deno.test("an app past its requests in flight is refused alone, and logged once", async () => {
  const s = await startServer({ env: { APP_MAX_IN_FLIGHT: "4" } });
  try {
    const [attacker, victim] = [appId("inflight"), appId("victim")];
    await s.deployOk(attacker, {
      "api/slow.ts":
        "export default async () => { await new Promise((r) => setTimeout(r, 600)); return { body: 'slow' }; };",
    });
    await s.deployOk(victim, { "api/ok.ts": "export default () => ({ body: 'ok' });" });
    const calls = Array.from({ length: 10 }, () => s.call(attacker, "/slow"));
    // While the attacker's share is full, another app answers as usual.
    assert.equal(await (await s.call(victim, "/ok")).text(), "ok");
    const responses = await Promise.all(calls);
    const refused = responses.filter((r) => r.status === 503);
    assert.equal(refused.length, 6);
    assert.equal(refused[0]!.headers.get("retry-after"), "1");
    const { error } = await json<{ error: string }>(refused[0]!, 503);
    assert.match(error, /^requests in flight per app: app ".*" has 4 requests in flight/);
    assert.match(error, /APP_MAX_IN_FLIGHT=4/);
    for (const response of responses) if (!response.bodyUsed) await response.body?.cancel();
    const entries = await s.logs(attacker, "limit=100");
    const reports = entries.filter((e) => e.message.includes("requests in flight per app"));
    assert.equal(reports.length, 1, JSON.stringify(entries.map((e) => e.message)));
    assert.equal(entries.filter((e) => e.type === "request").length, 4);
  } finally {
    await s.close();
  }
});

serverTest(
  "a flood of rate-limited requests writes one log entry per window, not two per 429",
  async (s) => {
    const app = appId("flood");
    await s.deployOk(app, { "api/a.ts": "export default () => ({ body: 'a' });" });
    await json(await s.api(`/apps/${app}/rate-limit`, { method: "PUT", json: { rps: 1 } }), 200);
    // Its own history first: one request that passes.
    assert.equal((await s.call(app, "/a")).status, 200);
    const statuses = [];
    for (let i = 0; i < 50; i++) {
      const response = await s.call(app, "/a");
      await response.body?.cancel();
      statuses.push(response.status);
    }
    assert.ok(statuses.filter((status) => status === 429).length >= 45, String(statuses));
    const entries = await s.logs(app, "limit=1000");
    const reports = entries.filter((e) => e.message.includes("rate limit reached"));
    assert.equal(reports.length, 1, JSON.stringify(entries.map((e) => e.message)));
    assert.match(reports[0]!.message, /1 refusal of "rate limit" since the last report/);
    // The request that passed is still there; the refused ones added no request entry.
    const requests = entries.filter((e) => e.type === "request");
    assert.ok(requests.every((e) => e.status === 200));
    assert.ok(requests.length >= 1 && requests.length <= 6);
  },
);

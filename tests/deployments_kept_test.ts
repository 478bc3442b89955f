/**
 * Deployments kept per environment (README "Budgets"): past DEPLOYMENTS_KEPT, a deploy deletes
 * the environment's oldest ones, never the live or the previous one, on every backend; and a
 * live deployment's code is read from the store when its sandbox starts, not held by the host.
 */
import assert from "node:assert/strict";
import { appId, backends, json, startServer } from "./helpers.ts";

interface Listing {
  deployments: Array<{ id: string; environment: string }>;
}

function version(n: number): Record<string, string> {
  return { "api/v.ts": `export default () => ({ body: ${n} });` };
}

for (const [backend, test] of backends({ DEPLOYMENTS_KEPT: "3" })) {
  test(`[${backend}] past DEPLOYMENTS_KEPT the oldest deployments of an environment are deleted, never the live or the previous one`, async (s) => {
    const app = appId("kept");
    const ids: string[] = [];
    for (const n of [1, 2, 3]) ids.push((await s.deployOk(app, version(n))).id);
    const preview = await s.deployOk(app, version(0), { environment: "preview" });
    // Version 1 live again: version 3, which it replaced, becomes the previous one.
    await json(
      await s.api(`/apps/${app}/environments/production/rollback`, {
        json: { deployment_id: ids[0] },
      }),
      200,
    );
    ids.push((await s.deployOk(app, version(4))).id);
    const listed = async (environment: string) =>
      (await json<Listing>(await s.api(`/apps/${app}/deployments?environment=${environment}`), 200))
        .deployments.map((d) => d.id);
    // The newest three (4, 3, 2) and version 1, the previous one (live before 4).
    assert.deepEqual(await listed("production"), [ids[3], ids[2], ids[1], ids[0]]);
    ids.push((await s.deployOk(app, version(5))).id);
    assert.deepEqual(await listed("production"), [ids[4], ids[3], ids[2]]);
    assert.equal((await s.api(`/apps/${app}/deployments/${ids[0]}`)).status, 404);
    assert.equal((await s.api(`/apps/${app}/deployments/${ids[1]}`)).status, 404);
    // Another environment's deployments are its own count.
    assert.deepEqual(await listed("preview"), [preview.id]);
    // The previous one still rolls back.
    await json(await s.api(`/apps/${app}/environments/production/rollback`, { json: {} }), 200);
    assert.equal(await json(await s.call(app, "/v"), 200), 4);
  });
}

Deno.test("a live deployment's code is read from the store when its sandbox starts: a restart serves it, an evicted sandbox reloads it", async () => {
  const env = { MAX_SANDBOXES: "4", SPARE_SANDBOXES: "1" };
  let s = await startServer({ env });
  const { dataDir } = s;
  const apps = Array.from({ length: 5 }, (_, i) => appId(`code${i}`));
  try {
    for (const [i, app] of apps.entries()) await s.deployOk(app, version(i));
    // Five apps over four slots: each round evicts and reloads from the store.
    for (let round = 0; round < 2; round++) {
      for (const [i, app] of apps.entries()) {
        assert.equal(await json(await s.call(app, "/v"), 200), i);
      }
    }
    assert.ok((s.platform.sandboxes.stats().stops.evicted ?? 0) > 0);
  } finally {
    await s.close();
  }
  s = await startServer({ env, dataDir });
  try {
    assert.equal(await json(await s.call(apps[2]!, "/v"), 200), 2);
  } finally {
    await s.close();
  }
});

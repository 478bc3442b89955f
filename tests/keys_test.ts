import assert from "node:assert/strict";
import { appId, backends, json, startServer, type TestServer } from "./helpers.ts";

const HELLO = { "api/hello.ts": "export default () => ({ body: 'hi' })" };

interface CreatedKey {
  id: string;
  app_id: string;
  created_at: string;
  key: string;
}

async function createKey(s: TestServer, app: string): Promise<CreatedKey> {
  return await json<CreatedKey>(await s.api(`/apps/${app}/keys`, { method: "POST" }), 201);
}

/** This file's servers, one per backend, shared by all its tests. */
const servers = backends();

for (const [backend, test] of servers) {
  test(`[${backend}] a per-app key deploys, reads logs and manages vars of its app`, async (s) => {
    const app = appId("keys");
    const created = await createKey(s, app);
    assert.match(created.key, /^fnk_key_[0-9a-f]{24}_[A-Za-z0-9_-]{43}$/);
    assert.equal(created.app_id, app);
    const key = created.key;
    const deployed = await json<{ id: string; deployed_by: string }>(
      await s.api(`/apps/${app}/deploy`, { json: { source_files: HELLO }, key }),
      201,
    );
    assert.equal(deployed.deployed_by, created.id);
    await json(await s.api(`/apps/${app}/logs`, { key }), 200);
    await json(await s.api(`/apps/${app}/deployments`, { key }), 200);
    const put = await s.api(`/apps/${app}/environments/production/vars/A`, {
      method: "PUT",
      json: { value: "1" },
      key,
    });
    assert.equal(put.status, 201);
    await put.body?.cancel();
  });

  test(`[${backend}] a per-app key used on another app is refused with 403`, async (s) => {
    const app = appId("keys");
    const other = appId("victim");
    await s.deployOk(other, HELLO);
    const { key } = await createKey(s, app);
    for (
      const [path, init] of [
        [`/apps/${other}/deploy`, { json: { source_files: HELLO } }],
        [`/apps/${other}/logs`, {}],
        [`/apps/${other}/deployments`, {}],
        [`/apps/${other}/environments/production/vars`, {}],
        [`/apps/${other}/environments/production/vars/A`, { method: "PUT", json: { value: "x" } }],
      ] as const
    ) {
      const body = await json(await s.api(path, { ...init, key }), 403);
      assert.match(
        String(body.error),
        new RegExp(`belongs to app "${app}" and cannot act on app "${other}"`),
      );
    }
    const listing = await json<{ deployments: unknown[] }>(
      await s.api(`/apps/${other}/deployments`),
      200,
    );
    assert.equal(listing.deployments.length, 1, "the other app's deployments are unchanged");
  });

  test(`[${backend}] only the admin key manages keys; a revoked key stops working`, async (s) => {
    const app = appId("keys");
    const created = await createKey(s, app);
    const asApp = await s.api(`/apps/${app}/keys`, { method: "POST", key: created.key });
    assert.match(String((await json(asApp, 403)).error), /only the admin API key/);
    const listed = await json<{ keys: Array<Record<string, string>> }>(
      await s.api(`/apps/${app}/keys`),
      200,
    );
    assert.deepEqual(listed.keys, [{
      id: created.id,
      app_id: app,
      created_at: created.created_at,
      name: null,
    }]);
    const revoked = await s.api(`/apps/${app}/keys/${created.id}`, { method: "DELETE" });
    assert.equal(revoked.status, 204);
    const after = await s.api(`/apps/${app}/deployments`, { key: created.key });
    assert.match(String((await json(after, 401)).error), /invalid API key/);
    const again = await s.api(`/apps/${app}/keys/${created.id}`, { method: "DELETE" });
    assert.match(String((await json(again, 404)).error), /has no API key/);
    // A key of one app cannot be revoked through another.
    const mine = await createKey(s, app);
    const elsewhere = await s.api(`/apps/${appId("x")}/keys/${mine.id}`, { method: "DELETE" });
    await json(elsewhere, 404);
    await json(await s.api(`/apps/${app}/deployments`, { key: mine.key }), 200);
  });

  test(`[${backend}] a forged or malformed key is refused with 401`, async (s) => {
    const app = appId("keys");
    const { key, id } = await createKey(s, app);
    const forged = `fnk_${id}_${"A".repeat(43)}`;
    for (const bad of [forged, key.slice(0, -1), `${key}x`, "fnk_", "Bearer"]) {
      const response = await s.api(`/apps/${app}/deployments`, { key: bad });
      assert.equal(response.status, 401, bad);
      await response.body?.cancel();
    }
  });
}

Deno.test("[embedded] per-app keys are stored hashed", async () => {
  const s = await startServer();
  try {
    const { key } = await createKey(s, appId("keys"));
    const stored = await Deno.readTextFile(`${s.dataDir}/keys.json`);
    const secret = key.split("_").slice(3).join("_");
    assert.ok(!stored.includes(secret), stored);
    assert.match(stored, /"hash":"[0-9a-f]{64}"/);
  } finally {
    await s.close();
  }
});

const [[, embeddedTest]] = servers;
embeddedTest(
  "a bad app id or environment gets one 400 naming it, whichever key asks",
  async (s) => {
    const app = appId("ids");
    const { key } = await createKey(s, app);
    for (const asKey of [undefined, key]) {
      const badApp = await json<{ error: string }>(
        await s.api(`/apps/Bad--App/logs`, { key: asKey }),
        400,
      );
      assert.match(badApp.error, /^app id "Bad--App" is invalid: use 1-62 lower-case letters/);
      const badEnv = await json<{ error: string }>(
        await s.api(`/apps/${app}/environments/Prod!/vars`, { key: asKey }),
        400,
      );
      assert.match(badEnv.error, /^environment "Prod!" is invalid/);
    }
  },
);

import assert from "node:assert/strict";
import {
  appId,
  json,
  startRedisStack,
  startServer,
  type TestServer,
  twoInstancesTest,
  waitFor,
} from "./helpers.ts";

function versioned(n: number): Record<string, string> {
  return {
    "api/v.ts": `export default (ctx) => ({ body: { v: ${n}, mode: ctx.env.MODE ?? null } })`,
    "api/kv.ts": `export default async (ctx) => {
      if (ctx.req.method === "POST") await ctx.kv.set("shared", ctx.req.body);
      return { body: await ctx.kv.get("shared") };
    }`,
  };
}

async function served(s: TestServer, app: string): Promise<{ v: number; mode: string | null }> {
  return await json(await s.call(app, "/v"), 200);
}

/** Waits until `probe` holds on an instance and returns how long that took, in ms. */
async function within(what: string, probe: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  await waitFor(what, probe, 3000);
  return performance.now() - started;
}

twoInstancesTest(
  "[redis] two instances on one Redis share deploys, rollbacks, variables, keys and KV",
  async (a, b) => {
    assert.notEqual(a.url, b.url);
    const app = appId("scale");
    const first = await a.deployOk(app, versioned(1));
    assert.equal((await served(b, app)).v, 1);

    await a.deployOk(app, versioned(2));
    const deployLag = await within(
      "B serves A's deploy",
      async () => (await served(b, app)).v === 2,
    );
    assert.ok(deployLag < 1000, `B took ${deployLag} ms`);

    await json(
      await b.api(`/apps/${app}/environments/production/rollback`, {
        json: { deployment_id: first.id },
      }),
      200,
    );
    const rollbackLag = await within(
      "A serves B's rollback",
      async () => (await served(a, app)).v === 1,
    );
    assert.ok(rollbackLag < 1000, `A took ${rollbackLag} ms`);

    const put = await a.setVar(app, "production", "MODE", "shared");
    assert.equal(put.status, 201);
    const varLag = await within(
      "B sees A's variable",
      async () => (await served(b, app)).mode === "shared",
    );
    assert.ok(varLag < 1000, `B took ${varLag} ms`);

    const posted = await a.call(app, "/kv", {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "from A",
    });
    assert.equal(await posted.text(), "from A");
    assert.equal(await (await b.call(app, "/kv")).text(), "from A");

    const { key } = await json<{ key: string }>(
      await a.api(`/apps/${app}/keys`, { method: "POST" }),
      201,
    );
    await json(await b.api(`/apps/${app}/deployments`, { key }), 200);

    // Both instances list the same history.
    const listA = await json<{ deployments: Array<{ id: string }> }>(
      await a.api(`/apps/${app}/deployments`),
      200,
    );
    const listB = await json<{ deployments: Array<{ id: string }> }>(
      await b.api(`/apps/${app}/deployments`),
      200,
    );
    assert.deepEqual(listA, listB);
    assert.equal(listA.deployments.length, 2);
  },
);

for (const variant of [0, 1]) {
  Deno.test(
    `[${
      ["redis", "redis-tcp"][variant]
    }] while Redis is down: /healthz answers 503 naming it, deploys get 503, served apps keep answering`,
    async () => {
      const stack = await startRedisStack();
      const [, env] = stack.variants[variant]!;
      const s = await startServer({ env });
      try {
        const app = appId("outage");
        await s.deployOk(app, versioned(1));
        assert.equal((await served(s, app)).v, 1);
        assert.deepEqual(await json(await fetch(`${s.url}/healthz`), 200), { ok: true });
        // A change just before the outage marks the app's cached variables changed: while the
        // store is down, the app is served with the last ones read, not refused.
        assert.equal((await s.setVar(app, "production", "MODE", "new")).status, 201);

        await stack.stopRedis();
        const down = await json(await fetch(`${s.url}/healthz`), 503);
        assert.equal(down.ok, false);
        assert.match(String(down.error), /redis is unreachable/);
        const refused = await json(await s.deploy(app, versioned(2)), 503);
        assert.match(String(refused.error), /store \(Redis\) is unreachable/);
        assert.deepEqual(await served(s, app), { v: 1, mode: null }, "still served, as before");

        await stack.startRedis();
        await waitFor(
          "health to come back",
          async () => (await fetch(`${s.url}/healthz`)).status === 200,
          10_000,
        );
        await s.deployOk(app, versioned(2));
        assert.equal((await served(s, app)).v, 2);
      } finally {
        await s.close();
      }
    },
  );
}

Deno.test("/healthz on the embedded stores answers 200", async () => {
  const s = await startServer();
  try {
    assert.deepEqual(await json(await fetch(`${s.url}/healthz`), 200), { ok: true });
  } finally {
    await s.close();
  }
});

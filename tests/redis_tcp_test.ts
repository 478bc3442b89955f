/**
 * What only REDIS_URL (TCP, node-redis) does: changes announced by pub/sub reach other instances
 * without waiting for a poll, a dropped subscription resyncs from the version counter when it is
 * re-established, the timed check still catches a change nobody announced, and ACL users and
 * passwords in the URL work (a refused one is reported by /healthz without the secret).
 */
import assert from "node:assert/strict";
import { appId, json, sharedRedis, startServer, type TestServer, waitFor } from "./helpers.ts";

const versioned = (n: number) => ({
  "api/v.ts": `export default () => ({ body: { v: ${n} } })`,
  "api/kv.ts": `export default async (ctx) => {
    await ctx.kv.set("k", "v${n}");
    return { body: await ctx.kv.get("k") };
  }`,
});

async function served(s: TestServer, app: string): Promise<number> {
  return (await json<{ v: number }>(await s.call(app, "/v"), 200)).v;
}

/**
 * Points `app`'s production at `id` as another instance's store would, bumping the versions but
 * announcing nothing: only a check of the version counter can find this change.
 */
async function silentlySetLive(app: string, id: string): Promise<void> {
  const redis = await sharedRedis();
  await redis.command("HSET", `fn:app:${app}:live`, "production", id);
  await redis.command("HINCRBY", "fn:app-versions", app, 1);
  await redis.command("INCR", "fn:version");
}

/** Two instances over TCP whose timed check is `intervalMs` apart. */
async function twoOverTcp(intervalMs: number): Promise<[TestServer, TestServer]> {
  const env = { ...(await sharedRedis()).tcpEnv, SYNC_INTERVAL_MS: String(intervalMs) };
  return await Promise.all([startServer({ env }), startServer({ env })]);
}

/** Registers a test on two TCP instances, closed after, that outlive the shared Redis stack's test. */
function tcpTest(
  name: string,
  intervalMs: number,
  fn: (a: TestServer, b: TestServer) => Promise<void>,
) {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const [a, b] = await twoOverTcp(intervalMs);
      try {
        await fn(a, b);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    },
  });
}

tcpTest(
  "[redis-tcp] with the timed check an hour apart, another instance serves a deploy within 3 s (pub/sub)",
  3_600_000,
  async (a, b) => {
    const app = appId("pubsub");
    await a.deployOk(app, versioned(1));
    await waitFor("B serves v1", async () => await served(b, app) === 1, 3000);
    for (const n of [2, 3, 4]) {
      await a.deployOk(app, versioned(n));
      await waitFor(`B serves v${n}`, async () => await served(b, app) === n, 3000);
    }
  },
);

tcpTest(
  "[redis-tcp] an instance whose subscription was dropped resyncs from the version counter on reconnect",
  3_600_000,
  async (a, b) => {
    const app = appId("resync");
    const first = await a.deployOk(app, versioned(1));
    await a.deployOk(app, versioned(2));
    await waitFor("B serves v2", async () => await served(b, app) === 2, 3000);
    await silentlySetLive(app, first.id);
    // Nothing was announced and no timed check is due: B still serves v2.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await served(b, app), 2);
    // Dropping every subscriber connection (A's and B's) stands for a network blip.
    const killed = Number(await (await sharedRedis()).command("CLIENT", "KILL", "TYPE", "pubsub"));
    assert.ok(killed >= 2, `${killed} subscriber connections were dropped`);
    await waitFor("B serves v1 after reconnecting", async () => await served(b, app) === 1, 5000);
  },
);

tcpTest(
  "[redis-tcp] the timed check still finds a change that was never announced",
  300,
  async (a, b) => {
    const app = appId("poll");
    const first = await a.deployOk(app, versioned(1));
    await a.deployOk(app, versioned(2));
    await waitFor("B serves v2", async () => await served(b, app) === 2, 3000);
    await silentlySetLive(app, first.id);
    await waitFor("B serves v1", async () => await served(b, app) === 1, 3000);
  },
);

Deno.test({
  name: "[redis-tcp] an ACL user and password in REDIS_URL work; a refused one is a 503 naming why",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await sharedRedis();
    const user = `fn-${crypto.randomUUID().slice(0, 8)}`;
    const password = `secret-${crypto.randomUUID()}`;
    await redis.command("ACL", "SETUSER", user, "on", `>${password}`, "~*", "&*", "+@all");
    const port = new URL(redis.tcpEnv.REDIS_URL!).port;
    const s = await startServer({
      env: { REDIS_URL: `redis://${user}:${password}@127.0.0.1:${port}` },
    });
    try {
      const app = appId("acl");
      await s.deployOk(app, versioned(1));
      assert.equal(await (await s.call(app, "/kv")).text(), "v1");
      assert.equal(await redis.command("GET", `kv:${app}:k`), "v1");
    } finally {
      await s.close();
    }
    const wrong = `wrong-${crypto.randomUUID()}`;
    const refused = await startServer({
      env: { REDIS_URL: `redis://${user}:${wrong}@127.0.0.1:${port}`, KV_TIMEOUT_MS: "500" },
    });
    try {
      const health = await refused.request("/healthz");
      const text = await health.text();
      assert.equal(health.status, 503, text);
      assert.match(text, /redis is unreachable at redis:\/\/fn-[^:]+:\*\*\*@127\.0\.0\.1/);
      assert.match(text, /WRONGPASS/);
      assert.ok(!text.includes(wrong), "the password is not shown");
    } finally {
      await refused.close();
    }
  },
});

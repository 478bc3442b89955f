/** The shared KV suite: every test runs on the embedded store and on Redis (Upstash REST). */
import assert from "node:assert/strict";
import { appId, backends, json, sharedRedis, startServer, type TestServer } from "./helpers.ts";

/** A handler that runs `kv[op](...args)` from the JSON body and answers the outcome. */
const KV_OP = `export default async (ctx) => {
  const { op, args } = ctx.req.body;
  // { repeat: "x", times: n } stands for a long string, which would not fit the 1 MB request body.
  const expanded = args.map((a) => a && typeof a.repeat === "string" ? a.repeat.repeat(a.times) : a);
  try {
    return { body: { ok: true, value: await ctx.kv[op](...expanded) ?? null } };
  } catch (e) {
    return { status: 422, body: { ok: false, error: e.message } };
  }
};`;

const COUNTER = `export default async (ctx) => {
  const n = Number(await ctx.kv.get("count") ?? "0") + 1;
  await ctx.kv.set("count", String(n));
  return { body: { n } };
};`;

async function kv(s: TestServer, app: string, op: string, ...args: unknown[]) {
  const response = await s.call(app, "/kv", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ op, args }),
  });
  return await response.json() as { ok: boolean; value?: unknown; error?: string };
}

async function kvApp(s: TestServer): Promise<string> {
  const app = appId("kv");
  await s.deployOk(app, { "api/kv.ts": KV_OP, "api/counter.ts": COUNTER });
  return app;
}

const kvBackends = backends({ KV_TIMEOUT_MS: "1000" });
const [[, onEmbedded], [, onRedis]] = kvBackends;

for (const [backend, test] of kvBackends) {
  test(`[${backend}] get, set, del and keys work from a handler`, async (s) => {
    const app = await kvApp(s);
    assert.deepEqual(await kv(s, app, "get", "a"), { ok: true, value: null });
    assert.deepEqual(await kv(s, app, "set", "a", "x"), { ok: true, value: null });
    assert.deepEqual(await kv(s, app, "get", "a"), { ok: true, value: "x" });
    await kv(s, app, "set", "b", "y");
    assert.deepEqual(((await kv(s, app, "keys")).value as string[]).sort(), ["a", "b"]);
    await kv(s, app, "del", "a");
    await kv(s, app, "del", "never-there");
    assert.deepEqual(await kv(s, app, "get", "a"), { ok: true, value: null });
    assert.deepEqual((await kv(s, app, "keys")).value, ["b"]);
  });

  test(`[${backend}] values come back exactly as stored, with no JSON coercion`, async (s) => {
    const app = await kvApp(s);
    for (
      const value of ["1", "0", "true", "null", '{"a":1}', "[1,2]", " padded ", "", "héllo ✓ 😀"]
    ) {
      await kv(s, app, "set", "v", value);
      const got = (await kv(s, app, "get", "v")).value;
      assert.equal(typeof got, "string");
      assert.equal(got, value);
    }
    await kv(s, app, "set", "big", { repeat: "x", times: 1024 * 1024 });
    assert.equal(((await kv(s, app, "get", "big")).value as string).length, 1024 * 1024);
  });

  test(`[${backend}] an expired key is never returned by get or keys`, async (s) => {
    const app = await kvApp(s);
    await kv(s, app, "set", "short", "v", 1);
    await kv(s, app, "set", "long", "v", 60);
    assert.equal((await kv(s, app, "get", "short")).value, "v");
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal((await kv(s, app, "get", "short")).value, null);
    assert.deepEqual((await kv(s, app, "keys")).value, ["long"]);
  });

  for (
    const [name, op, args, pattern] of [
      ["a non-string key", "get", [42], /kv\.get: key must be a string/],
      ["a missing key", "del", [], /kv\.del: key must be a string/],
      ["an empty key", "set", ["", "v"], /kv\.set: key must not be empty/],
      ["a key over 512 bytes", "set", ["é".repeat(257), "v"], /key is 514 bytes; the limit is 512/],
      ["a non-string value", "set", ["k", 1], /kv\.set: value must be a string/],
      ["an object value", "set", ["k", { a: 1 }], /kv\.set: value must be a string/],
      [
        "a value over 1 MB",
        "set",
        ["k", { repeat: "x", times: 1024 * 1024 + 1 }],
        /value is 1048577 bytes; the limit is 1048576 \(1 MB\)/,
      ],
      ["a zero ttl", "set", ["k", "v", 0], /ttl must be a positive whole number of seconds, got 0/],
      ["a negative ttl", "set", ["k", "v", -5], /ttl must be a positive whole number/],
      ["a fractional ttl", "set", ["k", "v", 1.5], /ttl must be a positive whole number/],
      ["a string ttl", "set", ["k", "v", "10"], /ttl must be a positive whole number/],
    ] as const
  ) {
    test(`[${backend}] ${name} is refused with a clear error and writes nothing`, async (s) => {
      const app = await kvApp(s);
      const result = await kv(s, app, op, ...args);
      assert.equal(result.ok, false);
      assert.match(String(result.error), pattern);
      assert.deepEqual((await kv(s, app, "keys")).value, []);
    });
  }

  test(`[${backend}] a non-cloneable argument is refused inside the handler`, async (s) => {
    const app = appId("kv");
    await s.deployOk(app, {
      "api/f.ts":
        "export default async (ctx) => { try { await ctx.kv.set('k', () => 1); return {}; } catch (e) { return { body: e.message }; } }",
    });
    assert.match(
      await (await s.call(app, "/f")).text(),
      /kv\.set: value must be a string/,
    );
  });

  test(`[${backend}] one app can never read, list, overwrite or delete another's keys`, async (s) => {
    const [a, b] = [await kvApp(s), await kvApp(s)];
    const tricky = ["plain", "a:b", "*", "kv:*", "../x", "..", "ключ", `${b}:x`, "\u0000nul"];
    for (const key of tricky) await kv(s, a, "set", key, `A-${key}`);
    assert.deepEqual((await kv(s, b, "keys")).value, []);
    for (const key of tricky) {
      assert.equal((await kv(s, b, "get", key)).value, null, `b read a's ${key}`);
      await kv(s, b, "del", key);
      await kv(s, b, "set", key, "B");
    }
    for (const key of tricky) assert.equal((await kv(s, a, "get", key)).value, `A-${key}`);
    assert.deepEqual(((await kv(s, a, "keys")).value as string[]).sort(), [...tricky].sort());
    assert.deepEqual(((await kv(s, b, "keys")).value as string[]).sort(), [...tricky].sort());
  });

  test(`[${backend}] the counter pattern works across two apps without crosstalk`, async (s) => {
    const [a, b] = [await kvApp(s), await kvApp(s)];
    for (let i = 0; i < 3; i++) await json(await s.call(a, "/counter"), 200);
    assert.deepEqual(await json(await s.call(b, "/counter"), 200), { n: 1 });
    assert.deepEqual(await json(await s.call(a, "/counter"), 200), { n: 4 });
  });

  test(`[${backend}] concurrent calls from one request and from many requests reach the right callers`, async (s) => {
    const app = appId("kv");
    await s.deployOk(app, {
      "api/many.ts": `export default async (ctx) => {
        const id = ctx.req.query.id;
        await Promise.all(Array.from({ length: 20 }, (_, i) => ctx.kv.set(id + ":" + i, id + "=" + i)));
        const got = await Promise.all(Array.from({ length: 20 }, (_, i) => ctx.kv.get(id + ":" + i)));
        return { body: got };
      };`,
    });
    const results = await Promise.all(
      Array.from(
        { length: 10 },
        async (_, r) => await json<string[]>(await s.call(app, `/many?id=r${r}`), 200),
      ),
    );
    for (const [r, got] of results.entries()) {
      assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => `r${r}=${i}`));
    }
  });
}

onEmbedded(
  "[embedded] keys() lists 100,000 keys while other apps keep being served",
  async (s) => {
    const app = await kvApp(s);
    for (let i = 0; i < 100_000; i++) await s.platform.kv.set(app, `key-${i}`, "v", 600);
    await assertBigKeys(s, app);
  },
);

onRedis(
  "[redis] keys() lists 100,000 keys (SCAN) while other apps keep being served",
  async (s) => {
    const app = await kvApp(s);
    const stack = await sharedRedis();
    await stack.command(
      "EVAL",
      "for i = 0, 99999 do redis.call('SET', KEYS[1] .. i, 'v', 'EX', 600) end",
      1,
      `kv:${app}:key-`,
    );
    await assertBigKeys(s, app);
  },
);

async function assertBigKeys(s: TestServer, app: string) {
  const other = await kvApp(s);
  const listing = kv(s, app, "keys");
  const meanwhile = await kv(s, other, "set", "k", "v");
  assert.equal(meanwhile.ok, true);
  const keys = (await listing).value as string[];
  assert.equal(keys.length, 100_000);
  assert.equal(new Set(keys).size, 100_000);
  assert.ok(keys.includes("key-0") && keys.includes("key-99999"));
}

onRedis(
  "[redis] a key is written with a 30-day TTL by default, and the given one otherwise",
  async (s) => {
    const app = await kvApp(s);
    const stack = await sharedRedis();
    await kv(s, app, "set", "default", "v");
    await kv(s, app, "set", "custom", "v", 120);
    const ttlDefault = Number(await stack.command("TTL", `kv:${app}:default`));
    assert.ok(ttlDefault > 30 * 86400 - 10 && ttlDefault <= 30 * 86400, `TTL ${ttlDefault}`);
    const ttlCustom = Number(await stack.command("TTL", `kv:${app}:custom`));
    assert.ok(ttlCustom > 110 && ttlCustom <= 120);
  },
);

Deno.test("[embedded] KV data survives a server restart", async () => {
  const first = await startServer();
  const app = await kvApp(first);
  await kv(first, app, "set", "kept", "yes");
  await first.close();
  const second = await startServer({ dataDir: first.dataDir });
  try {
    assert.equal((await kv(second, app, "get", "kept")).value, "yes");
  } finally {
    await second.close();
  }
});

Deno.test({
  name:
    "[redis] when Redis is down KV calls reject clearly, the server keeps serving, and KV recovers",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const stack = await startRedisStackForOutage();
    const s = await startServer({ env: { ...stack.env, KV_TIMEOUT_MS: "1000" } });
    try {
      const app = await kvApp(s);
      await s.deployOk(app, {
        "api/kv.ts": KV_OP,
        "api/hello.ts": "export default () => ({ body: 'hi' })",
        "api/safe.ts": `export default async (ctx) => {
          try { return { body: await ctx.kv.get("k") }; }
          catch (e) { return { status: 503, body: { error: e.message } }; }
        };`,
      });
      await kv(s, app, "set", "k", "before");
      await stack.stopRedis();
      const down = await json(await s.call(app, "/safe"), 503);
      assert.equal(down.error, "the KV store is unavailable right now; try again shortly");
      assert.equal(await (await s.call(app, "/hello")).text(), "hi");
      await stack.startRedis();
      const deadline = Date.now() + 15_000;
      let result = await kv(s, app, "set", "k", "after");
      while (!result.ok && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        result = await kv(s, app, "set", "k", "after");
      }
      assert.equal(result.ok, true, "KV did not recover after Redis came back");
      assert.equal((await kv(s, app, "get", "k")).value, "after");
    } finally {
      await s.close();
    }
  },
});

/** Its own stack: stopping the shared Redis would disturb the other tests of this file. */
async function startRedisStackForOutage() {
  const { startRedisStack } = await import("./helpers.ts");
  return await startRedisStack();
}

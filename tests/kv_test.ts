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

/** What `kv.list` answers. */
interface KvPage {
  keys: string[];
  cursor: string | null;
  done: boolean;
}

async function kvApp(s: TestServer): Promise<string> {
  const app = appId("kv");
  await s.deployOk(app, { "api/kv.ts": KV_OP, "api/counter.ts": COUNTER });
  return app;
}

// 200 requests at once from one app: above the default APP_MAX_IN_FLIGHT of 128 (a budget of its
// own, tested in tests/serial/slots_test.ts), so these servers allow more.
const kvBackends = backends({ KV_TIMEOUT_MS: "1000", APP_MAX_IN_FLIGHT: "256" });

for (const [backend, test] of kvBackends) {
  test(`[${backend}] 200 concurrent incr calls from as many requests lose no update`, async (s) => {
    const app = await kvApp(s);
    const results = await Promise.all(
      Array.from({ length: 200 }, async () => (await kv(s, app, "incr", "hits")).value as number),
    );
    assert.equal((await kv(s, app, "get", "hits")).value, "200");
    assert.deepEqual(
      [...results].sort((a, b) => a - b),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    assert.equal((await kv(s, app, "incr", "hits", -50)).value, 150);
    await kv(s, app, "set", "word", "abc");
    const refused = await kv(s, app, "incr", "word");
    assert.equal(refused.ok, false);
    assert.match(String(refused.error), /kv\.incr: the value of "word" is not an integer/);
    assert.equal((await kv(s, app, "get", "word")).value, "abc");
  });

  test(`[${backend}] compare-and-set writes only over the expected value`, async (s) => {
    const app = await kvApp(s);
    assert.deepEqual(await kv(s, app, "set", "v", "1", { ifEquals: null }), {
      ok: true,
      value: true,
    });
    assert.deepEqual(await kv(s, app, "set", "v", "2", { ifEquals: null }), {
      ok: true,
      value: false,
    });
    assert.deepEqual(await kv(s, app, "set", "v", "2", { ifEquals: "0" }), {
      ok: true,
      value: false,
    });
    assert.deepEqual(await kv(s, app, "set", "v", "2", { ifEquals: "1" }), {
      ok: true,
      value: true,
    });
    assert.equal((await kv(s, app, "get", "v")).value, "2");
    // Concurrent CAS on one value: exactly one of ten wins.
    const wins = await Promise.all(
      Array.from(
        { length: 10 },
        async (_, i) => (await kv(s, app, "set", "v", `w${i}`, { ifEquals: "2" })).value,
      ),
    );
    assert.equal(wins.filter((w) => w === true).length, 1);
    const bad = await kv(s, app, "set", "v", "x", { ifEquals: 5 });
    assert.match(String(bad.error), /ifEquals must be the expected value/);
  });

  test(`[${backend}] getMany reads many keys in one call, in order`, async (s) => {
    const app = await kvApp(s);
    await kv(s, app, "set", "a", "1");
    await kv(s, app, "set", "c", "3");
    assert.deepEqual((await kv(s, app, "getMany", ["a", "b", "c"])).value, ["1", null, "3"]);
    const tooMany = await kv(s, app, "getMany", Array.from({ length: 101 }, (_, i) => `k${i}`));
    assert.match(String(tooMany.error), /at most 100 keys/);
  });

  test(`[${backend}] list() pages through 2,500 keys by cursor; keys() refuses past 1,000`, async (s) => {
    const app = await kvApp(s);
    const other = await kvApp(s);
    // 100 writes at a time: 2,500 at once over the REST protocol are 2,500 HTTP requests to
    // the test's REST server, which a loaded machine may not answer within KV_TIMEOUT_MS.
    for (let start = 0; start < 2500; start += 100) {
      await Promise.all(
        Array.from(
          { length: 100 },
          (_, i) => s.platform.kv.set(app, `key-${String(start + i).padStart(4, "0")}`, "v", 600),
        ),
      );
    }
    const refused = await kv(s, app, "keys");
    assert.equal(refused.ok, false);
    assert.match(String(refused.error), /more than 1000 keys; page through them with kv\.list/);
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const answer = await kv(s, app, "list", { cursor, limit: 1000 });
      const { keys, cursor: next, done } = answer.value as {
        keys: string[];
        cursor: string | null;
        done: boolean;
      };
      assert.ok(keys.length > 0 || done, "an empty page while keys remain");
      seen.push(...keys);
      // Other apps are served between pages.
      assert.equal((await kv(s, other, "set", "k", "v")).ok, true);
      if (done) break;
      cursor = next;
    }
    assert.equal(seen.length, 2500);
    assert.deepEqual(seen, [...seen].sort());
    assert.equal(new Set(seen).size, 2500);
  });

  test(`[${backend}] list() filters by prefix and skips expired keys`, async (s) => {
    const app = await kvApp(s);
    for (const key of ["a/1", "a/2", "a/3", "b/1", "a\u00e9", "ab"]) {
      await kv(s, app, "set", key, "v");
    }
    await kv(s, app, "set", "a/0-short", "v", 1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const first = (await kv(s, app, "list", { prefix: "a/", limit: 2 })).value as KvPage;
    assert.deepEqual(first.keys, ["a/1", "a/2"]);
    assert.equal(first.done, false);
    const second = (await kv(s, app, "list", { prefix: "a/", cursor: first.cursor }))
      .value as KvPage;
    assert.deepEqual(second, { keys: ["a/3"], cursor: null, done: true });
    const all = (await kv(s, app, "list")).value as KvPage;
    assert.deepEqual(all.keys, ["a/1", "a/2", "a/3", "ab", "a\u00e9", "b/1"]);
  });

  test(`[${backend}] keys with lone surrogates are refused, so no two keys collide`, async (s) => {
    const app = await kvApp(s);
    const lone = await kv(s, app, "set", "a\ud800", "x");
    assert.equal(lone.ok, false);
    assert.match(String(lone.error), /not valid Unicode \(it holds a lone surrogate\)/);
    assert.equal((await kv(s, app, "set", "a\ufffd", "y")).ok, true);
    assert.equal((await kv(s, app, "get", "a\ufffd")).value, "y");
    assert.equal((await kv(s, app, "set", "k", "\udc00")).ok, false);
  });

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

for (const [backend, onRedis] of kvBackends.slice(1)) {
  onRedis(
    `[${backend}] a key is written with a 30-day TTL by default, and the given one otherwise`,
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
}

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

for (const variant of [0, 1]) {
  Deno.test({
    name: `[${
      ["redis", "redis-tcp"][variant]
    }] when Redis is down KV calls reject clearly, the server keeps serving, and KV recovers`,
    async fn() {
      const stack = await startRedisStackForOutage();
      const [, env] = stack.variants[variant]!;
      const s = await startServer({ env: { ...env, KV_TIMEOUT_MS: "1000" } });
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
        assert.equal(down.error, "the KV store is unreachable right now; try again shortly");
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
}

/** Its own stack: stopping the shared Redis would disturb the other tests of this file. */
async function startRedisStackForOutage() {
  const { startRedisStack } = await import("./helpers.ts");
  return await startRedisStack();
}

for (const [backend, , env] of backends({ KV_MAX_KEYS: "3", KV_MAX_BYTES: "2000" })) {
  Deno.test({
    name: `[${backend}] an app's KV quota of keys and bytes is enforced with a clear error`,
    // The Redis variant uses the file's shared Redis stack, which outlives this test.
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const s = await startServer({ env: await env() });
      try {
        const app = await kvApp(s);
        const other = await kvApp(s);
        for (const key of ["a", "b", "c"]) {
          assert.equal((await kv(s, app, "set", key, "v")).ok, true);
        }
        const full = await kv(s, app, "set", "d", "v");
        assert.equal(full.ok, false);
        assert.match(String(full.error), /this app already holds 3 keys, the limit/);
        // Overwriting a key, and other apps, are not affected; a delete frees a place.
        assert.equal((await kv(s, app, "set", "a", "w")).ok, true);
        assert.equal((await kv(s, other, "set", "d", "v")).ok, true);
        await kv(s, app, "del", "b");
        assert.equal((await kv(s, app, "set", "d", "v")).ok, true);
        const big = await kv(s, app, "set", "c", { repeat: "x", times: 2500 });
        assert.equal(big.ok, false);
        assert.match(String(big.error), /over the limit of 2000 bytes/);
        assert.equal((await kv(s, app, "get", "c")).value, "v", "a refused write changes nothing");
      } finally {
        await s.close();
      }
    },
  });
}

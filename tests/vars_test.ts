import assert from "node:assert/strict";
import { appId, backends, json, redisTest, sharedRedis, startServer, waitFor } from "./helpers.ts";

const ENV_ECHO = {
  "api/env.ts": "export default (ctx) => ({ body: ctx.env })",
  "api/late.ts": `export default (ctx) => {
    setTimeout(() => { throw new Error("late " + ctx.env.TOKEN); }, 10);
    return { body: "ok" };
  };`,
  "api/leak.ts": `export default (ctx) => {
    console.log("the token is", ctx.env.TOKEN);
    throw new Error("failed with " + ctx.env.TOKEN);
  };`,
};

const SECRET = "sk_live_abcdefghijklmnop1234";

for (const [backend, test] of backends()) {
  test(`[${backend}] a variable set over the API reaches ctx.env without a redeploy`, async (s) => {
    const app = appId("vars");
    await s.deployOk(app, ENV_ECHO);
    assert.deepEqual(await json(await s.call(app, "/env"), 200), {});
    assert.equal((await s.setVar(app, "production", "GREETING", "hello")).status, 201);
    assert.deepEqual(await json(await s.call(app, "/env"), 200), { GREETING: "hello" });
    assert.equal((await s.setVar(app, "production", "GREETING", "bonjour")).status, 200);
    assert.deepEqual(await json(await s.call(app, "/env"), 200), { GREETING: "bonjour" });
    const deleted = await s.api(`/apps/${app}/environments/production/vars/GREETING`, {
      method: "DELETE",
    });
    assert.equal(deleted.status, 204);
    assert.deepEqual(await json(await s.call(app, "/env"), 200), {});
  });

  test(`[${backend}] each environment has its own variables`, async (s) => {
    const app = appId("vars");
    await s.deployOk(app, ENV_ECHO);
    await s.deployOk(app, ENV_ECHO, { environment: "staging" });
    await s.setVar(app, "production", "MODE", "prod");
    await s.setVar(app, "staging", "MODE", "stage");
    assert.deepEqual(await json(await s.call(app, "/env"), 200), { MODE: "prod" });
    assert.deepEqual(
      await json(await s.request(`/apps/${app}/env/staging/functions/env`), 200),
      { MODE: "stage" },
    );
  });

  test(`[${backend}] listing shows names and a masked preview, never the value`, async (s) => {
    const app = appId("vars");
    await s.setVar(app, "production", "TOKEN", SECRET);
    await s.setVar(app, "production", "SHORT", "abc");
    const response = await s.api(`/apps/${app}/environments/production/vars`);
    const text = await response.text();
    assert.equal(response.status, 200);
    assert.ok(!text.includes(SECRET) && !text.includes("abc"), text);
    const { vars } = JSON.parse(text) as { vars: Array<Record<string, string>> };
    assert.deepEqual(vars.map((v) => [v.name, v.preview]), [["SHORT", "••••"], [
      "TOKEN",
      "••••1234",
    ]]);
    assert.match(vars[0]!.updated_at ?? "", /^\d{4}-\d\d-\d\dT/);
    const one = await json(await s.api(`/apps/${app}/environments/production/vars/TOKEN`), 200);
    assert.deepEqual(one, vars[1]);
    await json(await s.api(`/apps/${app}/environments/production/vars/NOPE`), 404);
  });

  test(`[${backend}] a bad name, value or body is refused naming it, and never echoes the value`, async (s) => {
    const app = appId("vars");
    const cases: Array<[string, unknown, RegExp]> = [
      ["lower", "x", /variable name "lower" is invalid/],
      ["1ABC", "x", /variable name "1ABC" is invalid/],
      ["A-B", "x", /variable name "A-B" is invalid/],
      ["NUM", 42, /value of NUM must be a string/],
      [
        "BIG",
        `${SECRET}${"x".repeat(64 * 1024)}`,
        /value of BIG is 65564 bytes, over the limit of 65536/,
      ],
    ];
    for (const [name, value, pattern] of cases) {
      const response = await s.setVar(app, "production", name, value);
      const text = await response.text();
      assert.equal(response.status, 400, text);
      assert.match(JSON.parse(text).error, pattern);
      assert.ok(!text.includes(SECRET));
    }
    const noValue = await s.api(`/apps/${app}/environments/production/vars/A`, {
      method: "PUT",
      json: { val: "x" },
    });
    assert.match(String((await json(noValue, 400)).error), /like \{"value": "..."\}/);
    const badEnv = await s.setVar(app, "Prod!", "A", "x");
    assert.match(String((await json(badEnv, 400)).error), /environment "Prod!" is invalid/);
    const missing = await s.api(`/apps/${app}/environments/production/vars/NOPE`, {
      method: "DELETE",
    });
    assert.match(String((await json(missing, 404)).error), /has no variable NOPE/);
    assert.deepEqual(
      await json(await s.api(`/apps/${app}/environments/production/vars`), 200),
      { vars: [] },
    );
  });

  test(`[${backend}] a variable's value never appears in logs or error responses`, async (s) => {
    const app = appId("vars");
    await s.deployOk(app, ENV_ECHO);
    await s.setVar(app, "production", "TOKEN", SECRET);
    const response = await s.call(app, "/leak");
    const requestId = response.headers.get("x-request-id")!;
    const text = await response.text();
    assert.equal(response.status, 500);
    assert.ok(!text.includes(SECRET), text);
    assert.match(text, /failed with \[redacted TOKEN\]/);
    await waitFor("the leak's log entries", async () => {
      const entries = await s.logs(app, `request_id=${requestId}`);
      return entries.some((e) => e.level === "error") &&
        entries.some((e) => e.message === "the token is [redacted TOKEN]");
    }, 3000);
    assert.equal(await (await s.call(app, "/late")).text(), "ok");
    await waitFor("the timer's error entry", async () => {
      const entries = await s.logs(app, "level=error");
      return entries.some((e) => /late \[redacted TOKEN\]/.test(e.message));
    }, 3000);
    const all = JSON.stringify(await s.logs(app));
    assert.ok(!all.includes(SECRET));
  });
}

Deno.test("[embedded] variables are encrypted at rest", async () => {
  const s = await startServer();
  try {
    const app = appId("vars");
    await s.setVar(app, "production", "TOKEN", SECRET);
    const found: string[] = [];
    for await (const entry of Deno.readDir(`${s.dataDir}/apps/${app}/vars`)) {
      const text = await Deno.readTextFile(`${s.dataDir}/apps/${app}/vars/${entry.name}`);
      assert.ok(text.includes("TOKEN") && !text.includes(SECRET), text);
      found.push(entry.name);
    }
    assert.deepEqual(found, ["production.json"]);
    // Deleting what is not there answers 404 and writes nothing, whatever environment is named.
    for (let i = 0; i < 5; i++) {
      const response = await s.api(`/apps/${app}/environments/made-up-${i}/vars/TOKEN`, {
        method: "DELETE",
      });
      await json(response, 404);
    }
    const after: string[] = [];
    for await (const entry of Deno.readDir(`${s.dataDir}/apps/${app}/vars`)) after.push(entry.name);
    assert.deepEqual(after, ["production.json"]);
  } finally {
    await s.close();
  }
});

redisTest("[redis] variables are encrypted at rest", async (env) => {
  const redis = await sharedRedis();
  const s = await startServer({ env });
  try {
    const app = appId("vars");
    await s.setVar(app, "production", "TOKEN", SECRET);
    const stored = await redis.command("HGET", `fn:app:${app}:vars:production`, "TOKEN");
    assert.equal(typeof stored, "string");
    assert.ok(!String(stored).includes(SECRET));
    assert.ok(!String(stored).includes(btoa(SECRET).slice(0, 12)));
  } finally {
    await s.close();
  }
});

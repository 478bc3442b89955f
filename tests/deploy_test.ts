import assert from "node:assert/strict";
import { API_KEY, appId, json, serverTest, startServer } from "./helpers.ts";

const HELLO = { "api/hello.ts": "export default async () => ({ body: { hello: 'world' } });" };

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  return await fetch(url, {
    method: "POST",
    headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json", ...headers },
    body,
  });
}

serverTest("a deploy without an API key is refused with 401", async (s) => {
  const response = await s.request(`/v1/apps/${appId()}/deploy`, {
    method: "POST",
    body: JSON.stringify({ source_files: HELLO }),
  });
  const body = await json(response, 401);
  assert.match(String(body.error), /missing API key/);
});

serverTest("a deploy with a wrong API key is refused with 401", async (s) => {
  const response = await post(
    `${s.url}/v1/apps/${appId()}/deploy`,
    JSON.stringify({ source_files: HELLO }),
    {
      authorization: `Bearer ${API_KEY}x`,
    },
  );
  assert.equal((await json(response, 401)).error, "invalid API key");
});

serverTest("a deploy succeeds with 201, its id, environment, time and routes", async (s) => {
  const before = Date.now();
  const response = await s.deploy(appId(), HELLO, { message: "first", bundle_s3_key: "b/1.zip" });
  const body = await json(response, 201);
  assert.match(String(body.id), /^dpl_[0-9a-f]+$/);
  assert.equal(body.environment, "production");
  assert.equal(body.message, "first");
  assert.equal(body.bundle_s3_key, "b/1.zip");
  assert.ok(Date.parse(String(body.created_at)) >= before - 1000);
  assert.deepEqual(body.routes, [{ pattern: "/functions/hello", file: "api/hello.ts" }]);
});

serverTest("malformed JSON is refused with 400", async (s) => {
  const body = await json(await post(`${s.url}/v1/apps/${appId()}/deploy`, "{not json"), 400);
  assert.match(String(body.error), /not valid JSON/);
});

serverTest("a deploy without source_files is refused naming the field", async (s) => {
  const body = await json(await post(`${s.url}/v1/apps/${appId()}/deploy`, "{}"), 400);
  assert.match(String(body.error), /source_files is required/);
});

for (
  const [field, value, pattern] of [
    ["source_files", "nope", /source_files must be an object/],
    ["source_files", ["a"], /source_files must be an object/],
    ["source_files", { "api/a.ts": 5 }, /source_files\["api\/a.ts"\] must be a string/],
    ["environment", 7, /environment must be/],
    ["environment", "Prod!", /environment must be/],
    ["message", 1, /message must be a string/],
    ["source", {}, /source must be a string/],
    ["bundle_s3_key", true, /bundle_s3_key must be a string/],
  ] as const
) {
  serverTest(
    `a deploy with a bad ${field} (${JSON.stringify(value)}) is refused naming it`,
    async (s) => {
      const payload = { source_files: HELLO, [field]: value };
      const body = await json(
        await post(`${s.url}/v1/apps/${appId()}/deploy`, JSON.stringify(payload)),
        400,
      );
      assert.match(String(body.error), pattern);
    },
  );
}

serverTest("a body that is not an object is refused", async (s) => {
  const body = await json(await post(`${s.url}/v1/apps/${appId()}/deploy`, "[1,2]"), 400);
  assert.match(String(body.error), /must be a JSON object/);
});

serverTest("an invalid app id is refused with 400", async (s) => {
  const body = await json(await s.deploy("Bad_App", HELLO), 400);
  assert.match(String(body.error), /app id "Bad_App" is invalid/);
});

serverTest("a refused deploy leaves the live deployment serving", async (s) => {
  const app = appId();
  await s.deployOk(app, HELLO);
  await json(await s.deploy(app, { "api/hello.ts": "export default (" }), 400);
  assert.deepEqual(await json(await s.call(app, "/hello"), 200), { hello: "world" });
});

serverTest("a new deploy replaces the live code for new requests", async (s) => {
  const app = appId();
  await s.deployOk(app, HELLO);
  await s.deployOk(app, { "api/hello.ts": "export default () => ({ body: 'v2' })" });
  assert.equal(await (await s.call(app, "/hello")).text(), "v2");
});

Deno.test("a restarted server still serves what was deployed", async () => {
  const first = await startServer();
  const app = appId();
  await first.deployOk(app, HELLO);
  await first.close();
  const second = await startServer({ dataDir: first.dataDir });
  try {
    assert.deepEqual(await json(await second.call(app, "/hello"), 200), { hello: "world" });
  } finally {
    await second.close();
  }
});

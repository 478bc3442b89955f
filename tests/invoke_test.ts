import assert from "node:assert/strict";
import { appId, json, serverTest } from "./helpers.ts";

const REQ = "export default (ctx) => ({ body: ctx.req })";

/** `ctx.req` as the echo handler sends it back. */
interface Echo {
  method: string;
  path: string;
  query: Record<string, unknown>;
  headers: Record<string, string>;
  body: unknown;
}

serverTest(
  "ctx.req carries method, path, query with arrays, and lower-cased headers",
  async (s) => {
    const app = appId();
    await s.deployOk(app, { "api/req.ts": REQ });
    const req = await json<Echo>(
      await s.call(app, "/req?a=1&b=x&b=y&__proto__=p", {
        headers: { "X-Custom": "Yes", "x-platform-secret": "hidden" },
      }),
      200,
    );
    assert.equal(req.method, "GET");
    assert.equal(req.path, "/functions/req");
    assert.deepEqual({ ...req.query }, { a: "1", b: ["x", "y"], ["__proto__"]: "p" });
    assert.equal(req.headers["x-custom"], "Yes");
    assert.equal(req.headers["x-platform-secret"], undefined);
    assert.equal(req.headers.connection, undefined);
    assert.equal(req.body, undefined);
  },
);

serverTest("a JSON body is parsed for any method", async (s) => {
  const app = appId();
  await s.deployOk(app, { "api/req.ts": REQ });
  for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
    const req = await json<Echo>(
      await s.call(app, "/req", {
        method,
        headers: { "content-type": "application/json" },
        body: '{"n":[1,{"a":null}]}',
      }),
      200,
    );
    assert.deepEqual(req.body, { n: [1, { a: null }] }, method);
  }
});

serverTest("a text body arrives as a string and a form as an object", async (s) => {
  const app = appId();
  await s.deployOk(app, { "api/req.ts": REQ });
  const text = await json<Echo>(
    await s.call(app, "/req", {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "héllo",
    }),
    200,
  );
  assert.equal(text.body, "héllo");
  const form = await json<Echo>(
    await s.call(app, "/req", { method: "POST", body: new URLSearchParams("a=1&a=2&b=x y") }),
    200,
  );
  assert.deepEqual(form.body, { a: ["1", "2"], b: "x y" });
});

serverTest("a binary body arrives as a Uint8Array", async (s) => {
  const app = appId();
  await s.deployOk(app, {
    "api/bin.ts":
      "export default (ctx) => ({ body: { isBytes: ctx.req.body instanceof Uint8Array, bytes: [...ctx.req.body] } })",
  });
  const body = await json(
    await s.call(app, "/bin", {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: new Uint8Array([0, 255, 7]),
    }),
    200,
  );
  assert.deepEqual(body, { isBytes: true, bytes: [0, 255, 7] });
});

serverTest("malformed JSON is answered 400 before the handler runs", async (s) => {
  const app = appId();
  await s.deployOk(app, {
    "api/side.ts": "export default async (ctx) => { await ctx.kv.set('ran', 'yes'); return {}; }",
  });
  const body = await json(
    await s.call(app, "/side", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{bad",
    }),
    400,
  );
  assert.match(String(body.error), /not valid JSON/);
  assert.equal(await s.platform.kv.get(app, "ran"), null);
});

serverTest("the SPEC's greet handler answers 201 with its query", async (s) => {
  const app = appId();
  await s.deployOk(app, {
    "api/greet.ts":
      `export default async function (ctx) {\n  return { status: 201, body: { hi: ctx.req.query.who ?? "there" } };\n}`,
  });
  assert.deepEqual(await json(await s.call(app, "/greet?who=ada"), 201), { hi: "ada" });
  assert.deepEqual(await json(await s.call(app, "/greet"), 201), { hi: "there" });
});

serverTest("ctx.env is an empty object until variables are set", async (s) => {
  const app = appId();
  await s.deployOk(app, {
    "api/env.ts":
      "export default (ctx) => ({ body: { env: ctx.env, frozen: Object.isFrozen(ctx.env) } })",
  });
  assert.deepEqual(await json(await s.call(app, "/env"), 200), { env: {}, frozen: true });
});

serverTest(
  "return values: object/array as JSON, string as text, bytes, nothing as empty",
  async (s) => {
    const app = appId();
    await s.deployOk(app, {
      "api/arr.ts": "export default () => ({ body: [1, 'two'] })",
      "api/text.ts": "export default () => ({ body: 'plain' })",
      "api/bytes.ts": "export default () => ({ body: new Uint8Array([1, 2, 3]) })",
      "api/buffer.ts": "export default () => ({ body: new Uint8Array([9]).buffer })",
      "api/none.ts": "export default () => {}",
      "api/headers.ts":
        "export default () => ({ status: 202, body: 'x', headers: { 'X-Mine': 'yes', 'content-type': 'text/csv' } })",
    });
    const arr = await s.call(app, "/arr");
    assert.equal(arr.headers.get("content-type"), "application/json; charset=utf-8");
    assert.deepEqual(await arr.json(), [1, "two"]);
    const text = await s.call(app, "/text");
    assert.equal(text.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal(await text.text(), "plain");
    const bytes = await s.call(app, "/bytes");
    assert.equal(bytes.headers.get("content-type"), "application/octet-stream");
    assert.deepEqual([...new Uint8Array(await bytes.arrayBuffer())], [1, 2, 3]);
    assert.deepEqual([...new Uint8Array(await (await s.call(app, "/buffer")).arrayBuffer())], [9]);
    const none = await s.call(app, "/none");
    assert.equal(none.status, 200);
    assert.equal(await none.text(), "");
    const headers = await s.call(app, "/headers");
    assert.equal(headers.status, 202);
    assert.equal(headers.headers.get("x-mine"), "yes");
    assert.equal(headers.headers.get("content-type"), "text/csv");
    assert.match(headers.headers.get("x-request-id") ?? "", /^req_/);
    await headers.text();
  },
);

for (
  const [name, code, pattern] of [
    [
      "a status out of range",
      "({ status: 99 })",
      /status must be an integer from 200 to 599, got number 99/,
    ],
    ["a non-integer status", "({ status: '200' })", /status must be an integer/],
    ["a function body", "({ body: () => 1 })", /body cannot be sent: it is a function/],
    ["a symbol body", "({ body: Symbol('s') })", /body cannot be sent: it is a symbol/],
    [
      "a cyclic body",
      "(() => { const a = {}; a.a = a; return { body: a }; })()",
      /cannot be serialised as JSON/,
    ],
    ["a BigInt inside the body", "({ body: { n: 1n } })", /cannot be serialised as JSON/],
    [
      "a header with a newline",
      "({ headers: { 'x-a': 'b\\r\\nx: y' } })",
      /header "x-a" has an invalid name or value/,
    ],
    ["a header that is an object", "({ headers: { 'x-a': {} } })", /header "x-a" must be a string/],
    ["a body on a 204", "({ status: 204, body: 'x' })", /status 204 cannot have a body/],
    [
      "a string instead of an object",
      "'hello'",
      /must return an object like \{ status, body, headers \}/,
    ],
  ] as const
) {
  serverTest(`a handler returning ${name} answers 500 with a clear error`, async (s) => {
    const app = appId();
    await s.deployOk(app, { "api/bad.ts": `export default () => ${code};` });
    const body = await json(await s.call(app, "/bad"), 500);
    assert.match(String(body.error), /api\/bad\.ts returned a value that cannot be sent/);
    assert.match(String(body.error), pattern);
  });
}

serverTest("a handler that throws answers 500 with the error", async (s) => {
  const app = appId();
  await s.deployOk(app, {
    "api/boom.ts": "export default async () => { throw new TypeError('kaput'); }",
  });
  const response = await s.call(app, "/boom");
  assert.match(response.headers.get("x-request-id") ?? "", /^req_/);
  const body = await json(response, 500);
  assert.equal(body.error, "api/boom.ts threw TypeError: kaput");
});

serverTest("a handler that throws a non-Error answers 500 saying what was thrown", async (s) => {
  const app = appId();
  await s.deployOk(app, { "api/boom.ts": "export default () => { throw 'just a string'; }" });
  assert.equal(
    (await json(await s.call(app, "/boom"), 500)).error,
    "api/boom.ts threw thrown: just a string",
  );
});

import assert from "node:assert/strict";
import { appId, json, rawHttp, serverTest } from "./helpers.ts";

const echo = (name: string) =>
  `export default (ctx) => ({ body: { route: ${
    JSON.stringify(name)
  }, params: ctx.req.params, path: ctx.req.path } });`;

const FILES = {
  "api/index.ts": echo("root"),
  "api/users/index.ts": echo("users"),
  "api/users/me.ts": echo("me"),
  "api/users/[id].ts": echo("user"),
  "api/users/[id]/posts/[postId].js": echo("post"),
  "api/files/[...rest].ts": echo("files"),
  "api/data/export.ts": echo("export"),
};

async function route(
  s: Parameters<Parameters<typeof serverTest>[1]>[0],
  app: string,
  path: string,
) {
  return await json<{ route: string; params: Record<string, string>; path: string }>(
    await s.call(app, path),
    200,
  );
}

serverTest("routes map files to paths: nested, index, [id], [...rest]", async (s) => {
  const app = appId();
  const body = await s.deployOk(app, FILES);
  assert.deepEqual(body.routes.map((r) => r.pattern).sort(), [
    "/functions",
    "/functions/data/export",
    "/functions/files/[...rest]",
    "/functions/users",
    "/functions/users/[id]",
    "/functions/users/[id]/posts/[postId]",
    "/functions/users/me",
  ]);
  assert.equal((await route(s, app, "")).route, "root");
  assert.equal((await route(s, app, "/")).route, "root");
  assert.equal((await route(s, app, "/users")).route, "users");
  assert.deepEqual(await route(s, app, "/data/export"), {
    route: "export",
    params: {},
    path: "/functions/data/export",
  });
  assert.deepEqual((await route(s, app, "/users/42")).params, { id: "42" });
  assert.deepEqual((await route(s, app, "/users/42/posts/7")).params, { id: "42", postId: "7" });
  assert.deepEqual((await route(s, app, "/files/a/b/c.txt")).params, { rest: "a/b/c.txt" });
});

serverTest("a static route beats a dynamic one", async (s) => {
  const app = appId();
  await s.deployOk(app, FILES);
  assert.equal((await route(s, app, "/users/me")).route, "me");
  assert.equal((await route(s, app, "/users/you")).route, "user");
});

serverTest("route parameters are percent-decoded", async (s) => {
  const app = appId();
  await s.deployOk(app, FILES);
  assert.deepEqual((await route(s, app, "/users/a%20b%2Fc")).params, { id: "a b/c" });
});

serverTest("a catch-all needs at least one segment", async (s) => {
  const app = appId();
  await s.deployOk(app, FILES);
  await json(await s.call(app, "/files"), 404);
});

serverTest("an app is reachable by host name <appId>.<base domain>", async (s) => {
  const app = appId();
  await s.deployOk(app, FILES);
  const response = await rawHttp(
    s.url,
    `GET /functions/users/9 HTTP/1.1\r\nHost: ${app}.localhost:8000\r\nConnection: close\r\n\r\n`,
  );
  assert.equal(response.status, 200);
  assert.deepEqual(JSON.parse(response.body).params, { id: "9" });
});

serverTest(
  "/functions on an unknown host answers 404 JSON saying how to address an app",
  async (s) => {
    const response = await rawHttp(
      s.url,
      "GET /functions/x HTTP/1.1\r\nHost: example.org\r\nConnection: close\r\n\r\n",
    );
    assert.equal(response.status, 404);
    assert.match(JSON.parse(response.body).error, /no app for this host/);
  },
);

serverTest("an unknown app answers 404 JSON", async (s) => {
  const body = await json(await s.call(appId("ghost"), "/hello"), 404);
  assert.match(String(body.error), /has no live deployment/);
});

serverTest("an unknown function answers 404 JSON", async (s) => {
  const app = appId();
  await s.deployOk(app, FILES);
  const body = await json(await s.call(app, "/users/1/nothing"), 404);
  assert.match(String(body.error), /no function at \/functions\/users\/1\/nothing/);
});

for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"]) {
  serverTest(`the ${method} method reaches the handler`, async (s) => {
    const app = appId();
    await s.deployOk(app, { "api/m.ts": "export default (ctx) => ({ body: ctx.req.method })" });
    assert.equal(await (await s.call(app, "/m", { method })).text(), method);
  });
}

serverTest("a bad route parameter name is refused at deploy", async (s) => {
  const body = await json(await s.deploy(appId(), { "api/[a-b].ts": echo("x") }), 400);
  assert.match(String(body.error), /must be a JavaScript identifier/);
});

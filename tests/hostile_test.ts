import assert from "node:assert/strict";
import { API_KEY, json, rawHttp, startServer } from "./helpers.ts";

/** One hostile request: sent with fetch (`path` + `init`) or as raw bytes, and the 4xx it must get. */
interface Case {
  name: string;
  status: number;
  /** What the JSON error must say. */
  error?: RegExp;
  path?: string;
  init?: RequestInit;
  /** Raw HTTP/1.1 request; `{APP}` is replaced by the victim app's id. */
  raw?: string | Uint8Array;
}

const APP = "hostile-victim";
const auth = { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" };
const deploy = (
  body: string | Uint8Array<ArrayBuffer>,
  headers: Record<string, string> = auth,
): RequestInit => ({
  method: "POST",
  headers,
  body,
});
const files = (source_files: unknown, extra: Record<string, unknown> = {}) =>
  deploy(JSON.stringify({ source_files, ...extra }));
const ok = "export default () => ({ body: 'x' })";
const deployPath = `/v1/apps/${APP}/deploy`;
const fn = (path: string) => `/apps/${APP}/functions${path}`;
const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
const invalidUtf8 = new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
const manyFiles = Object.fromEntries(
  Array.from({ length: 10_000 }, (_, i) => [`api/f${i}.ts`, ok]),
);

const cases: Case[] = [
  // The deploy API: bodies.
  {
    name: "a deploy body that is not JSON",
    path: deployPath,
    init: deploy("{"),
    status: 400,
    error: /not valid JSON/,
  },
  {
    name: "an empty deploy body",
    path: deployPath,
    init: deploy(""),
    status: 400,
    error: /not valid JSON/,
  },
  {
    name: "a deploy body that is an array",
    path: deployPath,
    init: deploy("[]"),
    status: 400,
    error: /must be a JSON object/,
  },
  {
    name: "a deploy body that is a string",
    path: deployPath,
    init: deploy('"x"'),
    status: 400,
    error: /must be a JSON object/,
  },
  {
    name: "a deploy body that is null",
    path: deployPath,
    init: deploy("null"),
    status: 400,
    error: /must be a JSON object/,
  },
  {
    name: "a deploy body of invalid UTF-8",
    path: deployPath,
    init: deploy(invalidUtf8),
    status: 400,
    error: /not valid JSON/,
  },
  {
    name: "a deploy body nested 100,000 deep",
    path: deployPath,
    init: deploy(nested(100_000)),
    status: 400,
  },
  {
    name: "a deploy body over 16 MB",
    path: deployPath,
    init: deploy("x".repeat(16 * 1024 * 1024 + 1)),
    status: 413,
    error: /over the limit/,
  },
  // The deploy API: fields.
  {
    name: "source_files missing",
    path: deployPath,
    init: deploy("{}"),
    status: 400,
    error: /source_files is required/,
  },
  {
    name: "source_files as a string",
    path: deployPath,
    init: files("api/x.ts"),
    status: 400,
    error: /source_files/,
  },
  {
    name: "source_files as an array",
    path: deployPath,
    init: files([ok]),
    status: 400,
    error: /source_files/,
  },
  {
    name: "a source file that is a number",
    path: deployPath,
    init: files({ "api/x.ts": 42 }),
    status: 400,
    error: /api\/x\.ts/,
  },
  { name: "no files at all", path: deployPath, init: files({}), status: 400 },
  {
    name: "environment as a number",
    path: deployPath,
    init: files({ "api/x.ts": ok }, { environment: 1 }),
    status: 400,
    error: /environment/,
  },
  {
    name: "environment in capitals",
    path: deployPath,
    init: files({ "api/x.ts": ok }, { environment: "Prod" }),
    status: 400,
    error: /environment/,
  },
  {
    name: "environment of 33 characters",
    path: deployPath,
    init: files({ "api/x.ts": ok }, { environment: "e".repeat(33) }),
    status: 400,
    error: /environment/,
  },
  {
    name: "message as an object",
    path: deployPath,
    init: files({ "api/x.ts": ok }, { message: {} }),
    status: 400,
    error: /message must be a string/,
  },
  {
    name: "message over 4096 characters",
    path: deployPath,
    init: files({ "api/x.ts": ok }, { message: "m".repeat(5000) }),
    status: 400,
    error: /message is longer/,
  },
  // The deploy API: paths.
  {
    name: "a path with ..",
    path: deployPath,
    init: files({ "api/../../etc/x.ts": ok }),
    status: 400,
  },
  { name: "an absolute path", path: deployPath, init: files({ "/api/x.ts": ok }), status: 400 },
  {
    name: "a path with a backslash",
    path: deployPath,
    init: files({ "api\\x.ts": ok }),
    status: 400,
  },
  {
    name: "a path with a NUL",
    path: deployPath,
    init: files({ "api/x\u0000.ts": ok }),
    status: 400,
  },
  {
    name: "a path with an empty segment",
    path: deployPath,
    init: files({ "api//x.ts": ok }),
    status: 400,
  },
  {
    name: "a route file that is not .ts or .js",
    path: deployPath,
    init: files({ "api/x.py": ok }),
    status: 400,
  },
  {
    name: "a __proto__ source file",
    path: deployPath,
    init: deploy('{"source_files":{"__proto__":{"api/x.ts":"x"}}}'),
    status: 400,
  },
  {
    name: "constructor and prototype as paths",
    path: deployPath,
    init: files({ constructor: ok, prototype: ok }),
    status: 400,
  },
  {
    name: "10,000 source files",
    path: deployPath,
    init: files(manyFiles),
    status: 400,
    error: /the limit is 500/,
  },
  // The deploy API: code.
  {
    name: "a bare package import",
    path: deployPath,
    init: files({ "api/x.ts": `import _ from "lodash"; ${ok}` }),
    status: 400,
  },
  {
    name: "an npm: import",
    path: deployPath,
    init: files({ "api/x.ts": `import "npm:left-pad"; ${ok}` }),
    status: 400,
  },
  {
    name: "a jsr: import",
    path: deployPath,
    init: files({ "api/x.ts": `import "jsr:@std/fs"; ${ok}` }),
    status: 400,
  },
  {
    name: "a node: import",
    path: deployPath,
    init: files({ "api/x.ts": `import "node:fs"; ${ok}` }),
    status: 400,
  },
  {
    name: "a remote import",
    path: deployPath,
    init: files({ "api/x.ts": `import "https://evil.example/x.js"; ${ok}` }),
    status: 400,
  },
  {
    name: "a data: import",
    path: deployPath,
    init: files({ "api/x.ts": `import "data:text/javascript,1"; ${ok}` }),
    status: 400,
  },
  {
    name: "a dynamic import of a file",
    path: deployPath,
    init: files({ "api/x.ts": `await import("file:///etc/passwd"); ${ok}` }),
    status: 400,
  },
  {
    name: "a relative import out of the tree",
    path: deployPath,
    init: files({ "api/x.ts": `import "../../etc/passwd"; ${ok}` }),
    status: 400,
  },
  {
    name: "a syntax error",
    path: deployPath,
    init: files({ "api/x.ts": "export default ( =>" }),
    status: 400,
    error: /api\/x\.ts/,
  },
  {
    name: "no default export",
    path: deployPath,
    init: files({ "api/x.ts": "export const a = 1;" }),
    status: 400,
  },
  {
    name: "a default export that is a number",
    path: deployPath,
    init: files({ "api/x.ts": "export default 42;" }),
    status: 400,
  },
  {
    name: "top-level code that throws",
    path: deployPath,
    init: files({ "api/x.ts": `throw new Error("boom"); ${ok}` }),
    status: 400,
  },
  // The deploy API: addressing and authentication.
  {
    name: "an app id with capitals",
    path: "/v1/apps/Bad_App/deploy",
    init: files({ "api/x.ts": ok }),
    status: 400,
    error: /app id/,
  },
  {
    name: "an app id with a double hyphen",
    path: "/v1/apps/a--b/deploy",
    init: files({ "api/x.ts": ok }),
    status: 400,
    error: /app id/,
  },
  {
    name: "an app id of 100 characters",
    path: `/v1/apps/${"a".repeat(100)}/deploy`,
    init: files({ "api/x.ts": ok }),
    status: 400,
    error: /app id/,
  },
  {
    name: "no API key",
    path: deployPath,
    init: deploy("{}", { "content-type": "application/json" }),
    status: 401,
  },
  {
    name: "a wrong API key",
    path: deployPath,
    init: deploy("{}", { authorization: "Bearer wrong-key-wrong-key" }),
    status: 401,
  },
  {
    name: "a Basic authorization",
    path: deployPath,
    init: deploy("{}", { authorization: `Basic ${btoa(`admin:${API_KEY}`)}` }),
    status: 401,
  },
  { name: "a GET on the deploy route", path: deployPath, init: { headers: auth }, status: 404 },
  {
    name: "an odd method on the deploy route",
    raw:
      `BREW ${deployPath} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${API_KEY}\r\nConnection: close\r\n\r\n`,
    status: 404,
  },
  // Other API routes.
  {
    name: "a log query with a bad level",
    path: `/v1/apps/${APP}/logs?level=loud`,
    init: { headers: auth },
    status: 400,
    error: /level/,
  },
  {
    name: "a log query with a bad since",
    path: `/v1/apps/${APP}/logs?since=yesterday`,
    init: { headers: auth },
    status: 400,
    error: /since/,
  },
  {
    name: "a log query with a negative limit",
    path: `/v1/apps/${APP}/logs?limit=-1`,
    init: { headers: auth },
    status: 400,
    error: /limit/,
  },
  {
    name: "a variable body that is not JSON",
    path: `/v1/apps/${APP}/environments/production/vars/A`,
    init: { method: "PUT", headers: auth, body: "{{" },
    status: 400,
  },
  {
    name: "a variable named __proto__",
    path: `/v1/apps/${APP}/environments/production/vars/__proto__`,
    init: { method: "PUT", headers: auth, body: '{"value":"x"}' },
    status: 400,
    error: /variable name/,
  },
  {
    name: "a rollback body that is not JSON",
    path: `/v1/apps/${APP}/environments/production/rollback`,
    init: deploy("nope"),
    status: 400,
  },
  {
    name: "a rollback to a path-like id",
    path: `/v1/apps/${APP}/environments/production/rollback`,
    init: deploy('{"deployment_id":"../../keys"}'),
    status: 404,
  },
  {
    name: "a deployment id with traversal",
    path: `/v1/apps/${APP}/deployments/..%2F..%2Fkeys`,
    init: { headers: auth },
    status: 400,
  },
  // Invocation.
  {
    name: "a malformed JSON body to a function",
    path: fn("/v"),
    init: { method: "POST", headers: { "content-type": "application/json" }, body: "{'a':" },
    status: 400,
    error: /not valid JSON/,
  },
  {
    name: "JSON nested 10,000 deep to a function",
    path: fn("/v"),
    init: { method: "POST", headers: { "content-type": "application/json" }, body: nested(10_000) },
    status: 400,
  },
  {
    name: "invalid UTF-8 JSON to a function",
    path: fn("/v"),
    init: { method: "POST", headers: { "content-type": "application/json" }, body: invalidUtf8 },
    status: 400,
  },
  {
    name: "a 2 MB body to a function",
    path: fn("/v"),
    init: { method: "POST", body: "x".repeat(2 * 1024 * 1024) },
    status: 413,
    error: /over the limit/,
  },
  {
    name: "a 40 KB request header to a function",
    path: fn("/v"),
    init: { headers: { "x-big": "h".repeat(40 * 1024) } },
    status: 431,
    error: /over the limit of 32768 bytes/,
  },
  {
    name: "a 40 KB header on the API",
    path: deployPath,
    init: deploy("{}", { ...auth, "x-big": "h".repeat(40 * 1024) }),
    status: 400,
    error: /source_files/,
  },
  {
    name: "a function path with encoded traversal",
    raw:
      `GET /apps/{APP}/functions/%2e%2e/%2e%2e/v1/apps HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    status: 404,
  },
  { name: "a function path with an encoded slash", path: fn("/a%2Fb"), status: 404 },
  { name: "a function path with bad percent-encoding", path: fn("/%zz"), status: 404 },
  {
    name: "an unknown app",
    path: "/apps/nobody-here/functions/v",
    status: 404,
    error: /no live deployment/,
  },
  { name: "an app id in capitals in the URL", path: "/apps/BAD/functions/v", status: 404 },
  {
    name: "a host name that is no app",
    raw: "GET /functions/v HTTP/1.1\r\nHost: ../../etc.localhost\r\nConnection: close\r\n\r\n",
    status: 404,
  },
  {
    name: "an environment with capitals in the URL",
    path: `/apps/${APP}/env/PROD/functions/v`,
    status: 404,
  },
];

Deno.test(`${cases.length} hostile requests each get their 4xx JSON error and change nothing`, async (t) => {
  assert.ok(cases.length >= 50);
  const s = await startServer();
  try {
    const live = await s.deployOk(APP, {
      "api/v.ts": `export default async (ctx) => ({ body: { kv: await ctx.kv.get("k") } })`,
      "api/set.ts": `export default async (ctx) => { await ctx.kv.set("k", "kept"); return {}; }`,
    });
    assert.equal((await s.call(APP, "/set", { method: "POST" })).status, 200);
    for (const c of cases) {
      await t.step(c.name, async () => {
        let status: number;
        let body: string;
        let type: string;
        if (c.raw !== undefined) {
          const raw = typeof c.raw === "string" ? c.raw.replaceAll("{APP}", APP) : c.raw;
          const response = await rawHttp(s.url, raw);
          status = response.status;
          body = response.body;
          type = response.headers["content-type"] ?? "";
        } else {
          const response = await fetch(`${s.url}${c.path}`, c.init);
          status = response.status;
          body = await response.text();
          type = response.headers.get("content-type") ?? "";
        }
        assert.equal(status, c.status, body.slice(0, 300));
        assert.match(type, /application\/json/);
        const error = JSON.parse(body).error;
        assert.equal(typeof error, "string");
        if (c.error) assert.match(error, c.error);
      });
    }
    // Headers past what Deno's HTTP layer parses (about 100 KB) get its bare 400 and a closed
    // connection before any platform code runs.
    const huge = await rawHttp(
      s.url,
      `GET ${fn("/v")} HTTP/1.1\r\nHost: x\r\nX-Huge: ${"h".repeat(1024 * 1024)}\r\n\r\n`,
    );
    assert.equal(huge.status, 400);
    // The server is healthy, the same deployment is live, and the KV data is intact.
    assert.deepEqual(await json(await fetch(`${s.url}/healthz`), 200), { ok: true });
    assert.deepEqual(await json(await s.call(APP, "/v"), 200), { kv: "kept" });
    const listing = await json<{ deployments: Array<{ id: string }> }>(
      await s.api(`/apps/${APP}/deployments`),
      200,
    );
    assert.deepEqual(listing.deployments.map((d) => d.id), [live.id]);
    assert.deepEqual(
      (await s.platform.kv.list(APP, { prefix: "", cursor: null, limit: 10 })).keys,
      ["k"],
    );
  } finally {
    await s.close();
  }
});

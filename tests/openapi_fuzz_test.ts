/**
 * Property-based test of the whole `/v1` API from its own document: every operation is driven
 * with path parameters, queries and bodies generated from its JSON Schemas (fast-check, seeded)
 * and with near misses of them (wrong types, missing fields, prototype-shaped names, bad
 * percent-escapes, a wrong key). Each case runs on a fresh app, so one case's deletes or limits
 * never starve another; event streams are aborted once they answer. Every answer must be a
 * status documented for its operation with a body matching its schema (the helpers check each
 * /v1 response against the document, tests/contract.ts), and none may be a 500.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { API_KEY, appId as freshAppId, json, serverTest } from "./helpers.ts";
import { anyJson, nearMiss, oddParameter, parameter, resolver, valid } from "./schema_arbitrary.ts";

/** Cases per operation: enough to reach each kind of near miss, few enough to take seconds. */
const RUNS_PER_OPERATION = 12;
/** Cases per operation that takes a body, whose near misses are more varied. */
const RUNS_WITH_BODY = 24;
/** The seed, so a failure can be replayed exactly. */
const SEED = 26;

type Json = Record<string, unknown>;

interface Parameter {
  name: string;
  in: "path" | "query";
  schema: Json;
}

interface Case {
  app: string | null;
  params: Record<string, string>;
  raw: boolean;
  query: Record<string, string>;
  body: { json: unknown } | { text: string } | null;
  key: string;
}

/** One operation's cases: inputs from its schemas, or near misses of them. */
function cases(operation: Json, resolve: ReturnType<typeof resolver>): fc.Arbitrary<Case> {
  const parameters = (operation.parameters ?? []) as Parameter[];
  const path = parameters.filter((p) => p.in === "path" && p.name !== "appId");
  const query = parameters.filter((p) => p.in === "query");
  const appParameter = parameters.find((p) => p.name === "appId");
  const content = (operation.requestBody as Json | undefined)?.content as
    | Record<string, { schema: Json; example?: unknown }>
    | undefined;
  const schema = content?.["application/json"]?.schema;
  const example = content?.["application/json"]?.example;
  return fc.record({
    // Mostly a fresh app (null: a new id is made per case); sometimes an id the rule refuses.
    app: appParameter
      ? fc.oneof({ arbitrary: fc.constant(null), weight: 5 }, {
        arbitrary: oddParameter,
        weight: 1,
      })
      : fc.constant(null),
    params: fc.record(Object.fromEntries(path.map((p) => [p.name, parameter(p.schema, resolve)]))),
    // Values sent as they are, without percent-encoding (bad escapes reach the server).
    raw: fc.boolean(),
    query: fc.record(
      Object.fromEntries(query.map((p) => [p.name, parameter(p.schema, resolve)])),
      { requiredKeys: [] },
    ) as fc.Arbitrary<Record<string, string>>,
    body: schema
      ? fc.oneof(
        { arbitrary: valid(schema, resolve).map((json) => ({ json })), weight: 3 },
        { arbitrary: fc.constant({ json: example ?? {} }), weight: example === undefined ? 0 : 2 },
        { arbitrary: nearMiss(schema, resolve).map((json) => ({ json })), weight: 3 },
        {
          arbitrary: fc.oneof(fc.constantFrom("", "{", "[1,", "nul", "\u00ff"), fc.string())
            .map((text) => ({ text })),
          weight: 1,
        },
      )
      : fc.oneof(fc.constant(null), anyJson.map((json) => ({ json }))),
    key: fc.oneof(
      { arbitrary: fc.constant(API_KEY), weight: 9 },
      {
        arbitrary: fc.constantFrom("", "wrong", `fnk_key_${"0".repeat(24)}_${"a".repeat(43)}`),
        weight: 1,
      },
    ),
  });
}

/** The request path of `template` for `c`: every `{name}` filled in. */
function pathOf(template: string, c: Case): string {
  const app = c.app ?? freshAppId("fz");
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = name === "appId" ? app : c.params[name] ?? "";
    // A raw value still may not split the path or start the query.
    return c.raw && !/[/?#]/.test(value) && value !== "" ? value : encodeURIComponent(value);
  });
}

serverTest(
  "every operation, driven from its schemas with valid and near-miss inputs, answers a documented status and never 500",
  async (s) => {
    const document = await json<Json>(await s.request("/v1/openapi.json"), 200);
    const resolve = resolver(document);
    const paths = document.paths as Record<string, Record<string, Json>>;
    let requests = 0;
    for (const [template, methods] of Object.entries(paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const stream = JSON.stringify(operation.responses).includes("text/event-stream");
        await fc.assert(
          fc.asyncProperty(cases(operation, resolve), async (c) => {
            const search = new URLSearchParams(c.query).toString();
            const target = `${pathOf(template, c)}${search ? `?${search}` : ""}`;
            const abort = new AbortController();
            const headers: Record<string, string> = { authorization: `Bearer ${c.key}` };
            let body: string | undefined;
            if (c.body && method !== "get") {
              headers["content-type"] = "application/json";
              body = "json" in c.body ? JSON.stringify(c.body.json) : c.body.text;
            }
            requests++;
            // The helpers throw for an undocumented status, content type or body.
            const response = await s.request(target, {
              method: method.toUpperCase(),
              headers,
              signal: abort.signal,
              ...(body === undefined ? {} : { body }),
            });
            if (stream && response.status === 200) {
              abort.abort();
              await response.body?.cancel();
            } else await response.arrayBuffer();
            assert.notEqual(
              response.status,
              500,
              `${method.toUpperCase()} ${target} answered 500 for ${JSON.stringify(c.body)}`,
            );
          }),
          {
            seed: SEED,
            numRuns: operation.requestBody ? RUNS_WITH_BODY : RUNS_PER_OPERATION,
            endOnFailure: true,
          },
        );
      }
    }
    assert.ok(requests >= 20 * RUNS_PER_OPERATION, `only ${requests} requests were made`);
  },
);

serverTest("the two constructor bodies are answered 400, and files so named deploy", async (s) => {
  const app = freshAppId("ctor");
  const deploy = await json(
    await s.api(`/apps/${app}/deploy`, { json: { source_files: { constructor: null } } }),
    400,
  );
  assert.match(String(deploy.error), /source_files\["constructor"\] must be a string/);
  const limit = await json(
    await s.api(`/apps/${app}/rate-limit`, {
      method: "PUT",
      json: { rps: 1, functions: { constructor: null } },
    }),
    400,
  );
  assert.match(String(limit.error), /"constructor" is not a route file like "api\/x\.ts"/);
  // A file, a route and a per-function limit may be called by a prototype's property names.
  const files = JSON.parse(
    JSON.stringify({
      "api/a.ts": 'import c from "../constructor.ts"; export default () => new Response(c);',
      "constructor.ts": 'export default "from constructor.ts";',
      "toString": "plain text",
      "api/constructor.ts": 'export default () => new Response("constructor route");',
      "api/toString.ts": 'export default () => new Response("toString route");',
    }).replace('"toString":', '"__proto__":"a file named __proto__","toString":'),
  );
  await s.deployOk(app, files);
  assert.equal(await (await s.call(app, "/a")).text(), "from constructor.ts");
  assert.equal(await (await s.call(app, "/constructor")).text(), "constructor route");
  assert.equal(await (await s.call(app, "/toString")).text(), "toString route");
  const page = await json<{ deployments: Array<{ id: string }> }>(
    await s.api(`/apps/${app}/deployments`),
    200,
  );
  const stored = await json<{ source_files: Record<string, string> }>(
    await s.api(`/apps/${app}/deployments/${page.deployments[0]!.id}`),
    200,
  );
  assert.ok(Object.hasOwn(stored.source_files, "__proto__"), "the __proto__ file is kept");
  assert.equal(stored.source_files["constructor.ts"], 'export default "from constructor.ts";');
  const set = await json(
    await s.api(`/apps/${app}/rate-limit`, {
      method: "PUT",
      json: { rps: 5, functions: { "api/constructor.ts": { rps: 1 } } },
    }),
    200,
  );
  assert.deepEqual(set.functions, { "api/constructor.ts": { rps: 1, burst: 1 } });
});

serverTest(
  "a KV key with malformed percent-escapes is refused, not stored as written",
  async (s) => {
    const app = freshAppId("kvesc");
    for (const key of ["%zz", "a%", "%e2%82"]) {
      const put = await json(
        await s.api(`/apps/${app}/kv/${key}`, { method: "PUT", json: { value: "x" } }),
        400,
      );
      assert.match(String(put.error), /is not well URL-encoded/, key);
    }
    const page = await json<{ keys: string[] }>(await s.api(`/apps/${app}/kv`), 200);
    assert.deepEqual(page.keys, []);
    // The same characters, encoded, are an ordinary key.
    await json(await s.api(`/apps/${app}/kv/%25zz`, { method: "PUT", json: { value: "x" } }), 200);
    const entry = await json(await s.api(`/apps/${app}/kv/%25zz`), 200);
    assert.equal(entry.key, "%zz");
  },
);

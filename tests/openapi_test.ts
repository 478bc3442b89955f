/** The OpenAPI document: every /v1 route is in it, it is valid 3.1, and it matches validation. */
import assert from "node:assert/strict";
import { Validator } from "@seriousme/openapi-schema-validator";
import { createApp } from "../routes/app.ts";
import { API_KEY, appId, json, serverTest, startServer } from "./helpers.ts";
import { Contract } from "./contract.ts";

interface Document {
  openapi: string;
  paths: Record<string, Record<string, { parameters: Array<{ name: string; in: string }> }>>;
}

serverTest(
  "every /v1 route is in /v1/openapi.json, and the document is valid OpenAPI 3.1",
  async (s) => {
    const doc = await json<Document>(await s.request("/v1/openapi.json"), 200);
    assert.equal(doc.openapi, "3.1.0");
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`)
      ),
    );
    const served = new Set(
      createApp(s.platform).routes
        .filter((r) =>
          r.path.startsWith("/v1/") && ["GET", "POST", "PUT", "DELETE"].includes(r.method)
        )
        .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`),
    );
    assert.ok(served.size >= 20, `only ${served.size} routes found`);
    for (const route of served) assert.ok(documented.has(route), `${route} is not documented`);
    for (const route of documented) {
      assert.ok(
        served.has(route),
        `${route} is documented but not served`,
      );
    }
    const result = await new Validator().validate(doc as unknown as Record<string, unknown>);
    assert.equal(result.valid, true, String(JSON.stringify(result.errors)).slice(0, 2000));
    // The validator does refuse a broken document (no info, a path without responses).
    const broken = { openapi: "3.1.0", paths: { "/x": { get: {} } } };
    assert.equal((await new Validator().validate(broken)).valid, false);
    // Path parameters are declared where the path names them.
    const rollback = doc.paths["/v1/apps/{appId}/environments/{env}/rollback"]!.post!;
    assert.deepEqual(rollback.parameters.map((p) => `${p.in}:${p.name}`), [
      "path:appId",
      "path:env",
    ]);
  },
);

serverTest("validation comes from the documented schemas and names the field", async (s) => {
  for (
    const [path, init, pattern] of [
      ["/apps/a/deployments?limit=0", {}, /limit must be an integer from 1 to 100/],
      ["/apps/a/logs?level=loud", {}, /level must be one of debug, info, warn, error, got "loud"/],
      ["/apps/Bad/logs", {}, /app id "Bad" is invalid/],
      ["/apps/a/environments/prod!/vars", {}, /environment "prod!" is invalid/],
      ["/apps/a/kv?limit=5000", {}, /limit must be an integer from 1 to 1000/],
      [
        "/apps/a/rate-limit",
        { method: "PUT", json: { rps: "fast" } },
        /body\.rps must be a number/,
      ],
    ] as const
  ) {
    const body = await json(await s.api(path, init), 400);
    assert.match(String(body.error), pattern, path);
  }
});

interface Operation {
  operationId: string;
  security?: unknown[];
  parameters: Array<{ name: string; in: string; schema: Record<string, unknown> }>;
  responses: Record<string, { content?: Record<string, Record<string, unknown>> }>;
}

serverTest(
  "every operation documents its success body, its statuses, its parameters' rules and its events",
  async (s) => {
    const doc = await json<
      { servers: unknown[]; paths: Record<string, Record<string, Operation>> }
    >(await s.request("/v1/openapi.json"), 200);
    assert.ok(doc.servers.length > 0, "servers");
    const ids = new Set<string>();
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(operations)) {
        const name = `${method.toUpperCase()} ${path}`;
        assert.ok(!ids.has(op.operationId), `${name}: operationId ${op.operationId} is taken`);
        ids.add(op.operationId);
        const statuses = Object.keys(op.responses);
        const success = statuses.filter((status) => status.startsWith("2") && status !== "204");
        assert.ok(statuses.some((status) => status.startsWith("2")), `${name}: no 2xx`);
        for (const status of success) {
          const content = op.responses[status]!.content ?? {};
          assert.ok(Object.keys(content).length > 0, `${name} ${status}: no body documented`);
          for (const media of Object.values(content)) {
            assert.ok(media.schema, `${name} ${status}: no schema`);
          }
        }
        if (op.security?.length !== 0) assert.ok(statuses.includes("401"), `${name}: no 401`);
        if (path.includes("{appId}")) {
          for (const status of ["400", "403"]) assert.ok(statuses.includes(status), name);
        }
        for (const p of op.parameters.filter((p) => p.in === "path")) {
          const rule = p.schema.pattern ?? p.schema.maxLength;
          assert.ok(rule !== undefined, `${name}: path parameter ${p.name} has no rule`);
        }
      }
    }
    const stream = doc.paths["/v1/apps/{appId}/logs/stream"]!.get!.responses["200"]!.content!;
    const events = stream["text/event-stream"]!["x-events"] as Record<string, { schema: object }>;
    assert.deepEqual(Object.keys(events).sort(), ["closed", "log", "ready"]);
    for (const event of Object.values(events)) assert.ok(event.schema);
  },
);

serverTest(
  "the response check fails on a planted mismatch, naming route, status and field",
  async (s) => {
    // The document as nested objects, to plant a change anywhere in it.
    type Node = { [key: string]: Node };
    const doc = await json<Node>(await s.request("/v1/openapi.json"), 200);
    const planted = structuredClone(doc);
    const deployment = planted.components!.schemas!.Deployment!;
    deployment.properties!.live = { type: "string" } as unknown as Node;
    delete planted.paths!["/v1/apps/{appId}/deployments/{id}"]!.get!.responses!["404"];
    delete planted.paths!["/v1/apps/{appId}/logs/stream"]!.get!.responses!["200"]!
      .content!["text/event-stream"]!["x-events"]!.ready;
    const contract = new Contract(planted);
    const app = appId("planted");
    const deploy = await s.deploy(app, { "api/a.ts": "export default () => new Response('a')" });
    await assert.rejects(
      contract.check("POST", `${s.url}/v1/apps/${app}/deploy`, deploy),
      /POST \/v1\/apps\/\{appId\}\/deploy answered 201: field \/live must be string, got true/,
    );
    const missing = `/v1/apps/${app}/deployments/dpl_${"0".repeat(24)}`;
    const notFound = await s.request(missing, { headers: { authorization: `Bearer ${API_KEY}` } });
    await assert.rejects(
      contract.check("GET", `${s.url}${missing}`, notFound),
      /GET \/v1\/apps\/\{appId\}\/deployments\/\{id\} answered 404, a status the document does not list/,
    );
    const abort = new AbortController();
    const tail = `/v1/apps/${app}/logs/stream`;
    const live = await s.request(tail, {
      headers: { authorization: `Bearer ${API_KEY}` },
      signal: abort.signal,
    });
    const checked = await contract.check("GET", `${s.url}${tail}`, live);
    await assert.rejects(
      checked.body!.getReader().read(),
      /answered 200 with a "ready" event, which its x-events do not list/,
    );
    abort.abort();
    // The unplanted document passes the same responses.
    const fine = new Contract(doc);
    const again = await s.deploy(app, { "api/a.ts": "export default () => new Response('a')" });
    assert.equal((await fine.check("POST", `${s.url}/v1/apps/${app}/deploy`, again)).status, 201);
  },
);

Deno.test("Redocly's recommended rules find no error in the document", async () => {
  const s = await startServer();
  const folder = await Deno.makeTempDir({ prefix: "fn-openapi-" });
  try {
    const file = `${folder}/openapi.json`;
    await Deno.writeTextFile(file, await (await s.request("/v1/openapi.json")).text());
    // The version pinned in deno.json.
    const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
    const redocly = String(config.imports["@redocly/cli"]);
    const lint = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", redocly, "lint", "--extends=recommended", "--format=json", file],
      env: { REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const report = JSON.parse(new TextDecoder().decode(lint.stdout)) as {
      totals: { errors: number };
      problems: Array<{ ruleId: string; severity: string; message: string }>;
    };
    assert.equal(report.totals.errors, 0, JSON.stringify(report.problems).slice(0, 2000));
    // The one warning left: the project names no license, and the document does not invent one.
    const warnings = report.problems.map((p) => p.ruleId);
    assert.deepEqual(warnings.filter((rule) => rule !== "info-license"), [], String(warnings));
    assert.equal(lint.code, 0, new TextDecoder().decode(lint.stderr));
  } finally {
    await s.close();
    await Deno.remove(folder, { recursive: true });
  }
});

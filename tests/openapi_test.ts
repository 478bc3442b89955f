/** The OpenAPI document: every /v1 route is in it, it is valid 3.1, and it matches validation. */
import assert from "node:assert/strict";
import { Validator } from "@seriousme/openapi-schema-validator";
import { createApp } from "../routes/app.ts";
import { json, serverTest } from "./helpers.ts";

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

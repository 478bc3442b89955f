/** Metrics: Prometheus text for operators (admin key), per-minute series for charts. */
import assert from "node:assert/strict";
import {
  API_KEY,
  appId,
  backends,
  json,
  serverTest,
  type TestServer,
  twoInstancesTest,
} from "./helpers.ts";

serverTest("/metrics counts the requests made, and only the admin key may read it", async (s) => {
  const app = appId("metrics");
  await s.deployOk(app, {
    "api/ok.ts": "export default async (ctx) => { await ctx.kv.get('k'); return { body: 'ok' }; }",
    "api/bad.ts": "export default () => { throw new Error('no'); }",
  });
  for (let i = 0; i < 3; i++) await (await s.call(app, "/ok")).body?.cancel();
  await (await s.call(app, "/bad")).body?.cancel();
  assert.equal((await s.request("/metrics")).status, 401);
  const key = await json<{ key: string }>(
    await s.api(`/apps/${app}/keys`, { method: "POST" }),
    201,
  );
  const forbidden = await s.request("/metrics", {
    headers: { authorization: `Bearer ${key.key}` },
  });
  assert.equal(forbidden.status, 403);
  assert.match((await forbidden.json()).error, /only the admin API key can read \/metrics/);
  const response = await s.request("/metrics", {
    headers: { authorization: `Bearer ${API_KEY}` },
  });
  assert.equal(response.status, 200);
  const text = await response.text();
  const line = (pattern: string) => text.split("\n").find((l) => l.startsWith(pattern));
  assert.match(
    line(
      `fn_requests_total{app="${app}",environment="production",function="api/ok.ts",status="2xx"}`,
    ) ?? "",
    / 3$/,
  );
  assert.match(
    line(
      `fn_requests_total{app="${app}",environment="production",function="api/bad.ts",status="5xx"}`,
    ) ?? "",
    / 1$/,
  );
  assert.match(line(`fn_kv_operations_total{app="${app}",op="get"}`) ?? "", / 3$/);
  assert.match(text, /fn_request_duration_seconds_bucket\{le="0.005",app="/);
  assert.match(text, /fn_sandboxes\{state="live"\} \d+/);
  assert.match(text, /fn_sandbox_cold_starts \d+/);
});

for (const [backend, test] of backends()) {
  test(`[${backend}] per-minute series give requests, errors, p50 and p99 per app and function`, async (s) => {
    const app = appId("series");
    await s.deployOk(app, {
      "api/ok.ts": "export default () => ({ body: 'ok' })",
      "api/bad.ts": "export default () => { throw new Error('no'); }",
    });
    for (let i = 0; i < 4; i++) await (await s.call(app, "/ok")).body?.cancel();
    await (await s.call(app, "/bad")).body?.cancel();
    const series = await json<{
      app: Array<
        { requests: number; errors: number; p50_ms: number | null; p99_ms: number | null }
      >;
      functions: Record<string, Array<{ requests: number }>>;
    }>(await s.api(`/apps/${app}/metrics?minutes=5`), 200);
    assert.equal(series.app.length, 5);
    const total = series.app.reduce((n, m) => n + m.requests, 0);
    const errors = series.app.reduce((n, m) => n + m.errors, 0);
    assert.equal(total, 5);
    assert.equal(errors, 1);
    const busy = series.app.find((m) => m.requests > 0)!;
    assert.ok(busy.p50_ms! > 0 && busy.p99_ms! >= busy.p50_ms!);
    assert.equal(series.functions["api/ok.ts"]!.reduce((n, m) => n + m.requests, 0), 4);
    const bad = await json(await s.api(`/apps/${app}/metrics?minutes=5000`), 400);
    assert.match(String(bad.error), /minutes must be an integer from 1 to 1440/);
  });
}

twoInstancesTest("[redis] two instances' per-minute figures merge", async (a, b) => {
  const app = appId("merged");
  await a.deployOk(app, { "api/ok.ts": "export default () => ({ body: 'ok' })" });
  for (const s of [a, a, b, b, b]) await (await s.call(app, "/ok")).body?.cancel();
  await b.platform.metrics.series.query(app, { minutes: 1, step: 1 }); // writes b's buffered counts
  const series = await json<{ app: Array<{ requests: number }> }>(
    await a.api(`/apps/${app}/metrics?minutes=5`),
    200,
  );
  assert.equal(series.app.reduce((n, m) => n + m.requests, 0), 5);
});

for (const [backend, test] of backends()) {
  test(`[${backend}] GET /v1/apps lists apps with environments, live deployments and the last hour`, async (s) => {
    const app = appId("listed");
    const first = await s.deployOk(app, { "api/ok.ts": "export default () => ({ body: 'ok' })" });
    const preview = await s.deployOk(app, { "api/ok.ts": "export default () => ({})" }, {
      environment: "preview",
    });
    await (await s.call(app, "/ok")).body?.cancel();
    const seen: Array<Record<string, unknown>> = [];
    let cursor: string | null = null;
    do {
      const page: { apps: Array<Record<string, unknown>>; next_cursor: string | null } = await json(
        await s.api(`/apps?limit=100${cursor ? `&cursor=${cursor}` : ""}`),
        200,
      );
      seen.push(...page.apps);
      cursor = page.next_cursor;
    } while (cursor);
    const listed = seen.find((a) => a.id === app)!;
    assert.deepEqual(listed.environments, [
      { name: "preview", live_deployment: preview.id },
      { name: "production", live_deployment: first.id },
    ]);
    assert.equal(listed.requests_last_hour, 1);
    assert.equal(listed.last_deploy_at, preview.created_at);
    // A per-app key sees only its own app.
    const key = await json<{ key: string }>(
      await s.api(`/apps/${app}/keys`, { method: "POST" }),
      201,
    );
    const own = await json<{ apps: Array<{ id: string }> }>(
      await s.api("/apps", { key: key.key }),
      200,
    );
    assert.deepEqual(own.apps.map((a) => a.id), [app]);
  });
}

/** An app of `n` routes (`api/r<i>.ts`), each called `i + 1` times. */
async function manyRoutes(s: TestServer, n: number): Promise<string> {
  const app = appId("routes");
  const files: Record<string, string> = {};
  for (let i = 0; i < n; i++) files[`api/r${i}.ts`] = "export default () => ({ body: 'ok' })";
  await s.deployOk(app, files);
  for (let i = 0; i < n; i++) {
    await Promise.all(Array.from({ length: i % 3 + 1 }, async () => {
      await (await s.call(app, `/r${i}`)).body?.cancel();
    }));
  }
  return app;
}

for (const [backend, test] of backends()) {
  test(`[${backend}] a day of metrics is bounded in points and series: a step, busy series only, a cap`, async (s) => {
    const app = await manyRoutes(s, 60);
    const response = await s.api(`/apps/${app}/metrics?minutes=1440`);
    const text = await response.text();
    assert.equal(response.status, 200);
    const day = JSON.parse(text) as {
      step_minutes: number;
      app: Array<{ minute: string; requests: number }>;
      functions: Record<string, Array<{ requests: number }>>;
      functions_omitted: number;
    };
    assert.equal(day.step_minutes, 12);
    assert.equal(day.app.length, 120);
    assert.equal(day.app.reduce((n, p) => n + p.requests, 0), 120);
    // The 50 busiest functions of 60, each with its 120 points; the others are counted.
    const names = Object.keys(day.functions);
    assert.equal(names.length, 50);
    assert.equal(day.functions_omitted, 10);
    assert.ok(names.every((name) => day.functions[name]!.length === 120));
    // The omitted ten are among the twenty called once; all forty called more are kept.
    const busier = Array.from({ length: 60 }, (_, i) => i).filter((i) => i % 3 !== 0);
    assert.ok(busier.every((i) => names.includes(`api/r${i}.ts`)), "a busier function left off");
    assert.ok(text.length < 1024 * 1024, `${text.length} bytes`);
    // A step is explicit too, within the points bound.
    const hourly = await json<{ step_minutes: number; app: unknown[] }>(
      await s.api(`/apps/${app}/metrics?minutes=1440&step=60`),
      200,
    );
    assert.deepEqual([hourly.step_minutes, hourly.app.length], [60, 24]);
    const tooFine = await json(await s.api(`/apps/${app}/metrics?minutes=1440&step=1`), 400);
    assert.match(String(tooFine.error), /step must be at least 6 for minutes=1440/);
    // A function without requests in the window has no series.
    const quiet = appId("quiet");
    await s.deployOk(quiet, {
      "api/a.ts": "export default () => ({})",
      "api/b.ts": "export default () => ({})",
    });
    await (await s.call(quiet, "/a")).body?.cancel();
    const one = await json<{ functions: Record<string, unknown> }>(
      await s.api(`/apps/${quiet}/metrics?minutes=5`),
      200,
    );
    assert.deepEqual(Object.keys(one.functions), ["api/a.ts"]);
  });
}

serverTest(
  'Prometheus keeps at most 50 function labels per app, the rest under function="other"',
  async (s) => {
    const app = await manyRoutes(s, 60);
    const text = await (await s.request("/metrics", {
      headers: { authorization: `Bearer ${API_KEY}` },
    })).text();
    const lines = text.split("\n").filter((l) => l.startsWith(`fn_requests_total{app="${app}"`));
    const labels = new Set(lines.map((l) => /function="([^"]+)"/.exec(l)![1]));
    assert.equal(labels.size, 51);
    assert.ok(labels.has("other"));
    const total = lines.reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);
    assert.equal(total, 120);
  },
);

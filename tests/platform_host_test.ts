/**
 * The platform host and tenant hosts; reserved app ids; headers stripped from function
 * responses; the live and previous marks of deployments and the plain rollback (both stores);
 * KV saves that keep the key's expiry; `fn deployments` and `fn rollback` with no id.
 */
import assert from "node:assert/strict";
import { API_KEY, appId, backends, json, startServer } from "./helpers.ts";

const CLI = new URL("../cli/main.ts", import.meta.url).pathname;

const BACKENDS = backends();
/** This file's tests that need no Redis share the embedded server of BACKENDS. */
const serverTest = BACKENDS[0][1];

const HELLO = { "api/hello.ts": `export default () => ({ body: { hi: 1 } });` };

/** An admin request to `path` of server `s` as if sent to `host`. */
function onHost(
  s: { request(path: string, init?: RequestInit): Promise<Response> },
  host: string,
  path: string,
) {
  return s.request(path, { headers: { host, authorization: `Bearer ${API_KEY}` } });
}

serverTest(
  "PLATFORM_HOST unset: localhost and 127.0.0.1 serve the platform, app hosts only functions",
  async (s) => {
    const app = appId("hosts");
    await s.deployOk(app, HELLO);
    for (const host of ["localhost:8000", "127.0.0.1"]) {
      assert.equal((await onHost(s, host, "/studio")).status, 200, host);
      await json(await onHost(s, host, "/v1/apps?limit=1"), 200);
      await json(await onHost(s, host, "/healthz"), 200);
      assert.equal((await onHost(s, host, "/metrics")).status, 200, host);
    }
    for (const host of [`${app}.localhost`, `${app}--staging.localhost:8000`, "x.y.localhost"]) {
      for (
        const path of [
          "/studio",
          "/v1/apps",
          "/healthz",
          "/metrics",
          `/apps/${app}/functions/hello`,
        ]
      ) {
        const response = await onHost(s, host, path);
        assert.equal(response.status, 404, `${host}${path}`);
        assert.match(String((await response.json()).error), /serves only \/functions/);
      }
    }
    assert.deepEqual(await json(await onHost(s, `${app}.localhost`, "/functions/hello"), 200), {
      hi: 1,
    });
  },
);

Deno.test("PLATFORM_HOST set: only that host serves the API and the Studio, apps keep their hosts", async () => {
  const s = await startServer({
    env: { PLATFORM_HOST: "studio.example.test", BASE_DOMAIN: "example.test" },
  });
  try {
    const app = appId("ph");
    const deploy = await s.request(`/v1/apps/${app}/deploy`, {
      method: "POST",
      headers: { host: "studio.example.test", authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({ source_files: HELLO }),
    });
    await json(deploy, 201);
    assert.equal((await onHost(s, "studio.example.test:443", "/studio")).status, 200);
    await json(await onHost(s, "STUDIO.example.test", "/v1/apps?limit=1"), 200);
    await json(await onHost(s, "studio.example.test", "/healthz"), 200);
    for (const host of ["127.0.0.1", "localhost", `${app}.example.test`]) {
      for (const path of ["/studio", "/v1/apps", "/healthz", "/metrics"]) {
        assert.equal((await onHost(s, host, path)).status, 404, `${host}${path}`);
      }
    }
    assert.deepEqual(await json(await onHost(s, `${app}.example.test`, "/functions/hello"), 200), {
      hi: 1,
    });
  } finally {
    await s.close();
  }
});

serverTest(
  "the app ids www, api and studio are reserved: a deploy is refused with 400",
  async (s) => {
    for (const id of ["www", "api", "studio"]) {
      const body = await json(await s.deploy(id, HELLO), 400);
      assert.match(String(body.error), new RegExp(`app id "${id}" is reserved`));
    }
  },
);

const SITE_WIDE = {
  "clear-site-data": '"cookies", "storage"',
  "strict-transport-security": "max-age=31536000; includeSubDomains",
  "alt-svc": 'h3=":443"',
  nel: '{"report_to":"x","max_age":1}',
  "report-to": '{"group":"x","max_age":1,"endpoints":[{"url":"https://e.test"}]}',
  "reporting-endpoints": 'x="https://e.test"',
  "service-worker-allowed": "/",
  "origin-agent-cluster": "?0",
  "accept-ch": "Sec-CH-UA-Model",
};

serverTest(
  "site-wide headers are dropped from function responses, logged once a window with a count",
  async (s) => {
    const app = appId("sitewide");
    await s.deployOk(app, {
      "api/h.ts": `export default () => ({ headers: ${JSON.stringify(SITE_WIDE)}, body: "ok" });`,
    });
    for (let i = 0; i < 3; i++) {
      const shared = await s.call(app, "/h");
      assert.equal(await shared.text(), "ok");
      for (const name of Object.keys(SITE_WIDE)) assert.equal(shared.headers.get(name), null, name);
    }
    const own = await s.request("/functions/h", { headers: { host: `${app}.localhost` } });
    await own.body?.cancel();
    assert.equal(own.headers.get("clear-site-data"), null);
    assert.equal(
      own.headers.get("strict-transport-security"),
      SITE_WIDE["strict-transport-security"],
    );
    const warnings = (await s.logs(app, "level=warn&limit=1000")).filter((e) =>
      e.type === "console"
    );
    for (const name of Object.keys(SITE_WIDE)) {
      const lines = warnings.filter((e) =>
        e.message.includes(`a ${name} header`) ||
        (name === "clear-site-data" && e.message.includes("Clear-Site-Data"))
      );
      assert.equal(lines.length, 1, `${name}: ${JSON.stringify(lines.map((e) => e.message))}`);
      assert.match(
        lines[0]!.message,
        /\(1 time since the last report; reported at most once every 60 s\)/,
      );
    }
  },
);

interface Listing {
  deployments: Array<{ id: string; live: boolean; previous: boolean }>;
  live: Record<string, string>;
  previous: Record<string, string>;
}

for (const [backend, test] of BACKENDS) {
  test(`[${backend}] live and previous follow the live switches; a plain rollback goes back and forth`, async (s) => {
    const app = appId("marks");
    const v1 = await s.deployOk(app, HELLO, { message: "v1" });
    const v2 = await s.deployOk(app, HELLO, { message: "v2" });
    await s.deployOk(app, HELLO, { environment: "staging" });
    const marks = async () => {
      const listing = await json<Listing>(await s.api(`/apps/${app}/deployments`), 200);
      const of = (id: string) => listing.deployments.find((d) => d.id === id)!;
      return { listing, v1: of(v1.id), v2: of(v2.id) };
    };
    let now = await marks();
    assert.deepEqual([now.v2.live, now.v2.previous, now.v1.live, now.v1.previous], [
      true,
      false,
      false,
      true,
    ]);
    // v1 by id: v1 is live, v2 (live before it) is previous, not the newest-but-one.
    const back = await json(
      await s.api(`/apps/${app}/environments/production/rollback`, {
        json: { deployment_id: v1.id },
      }),
      200,
    );
    assert.equal(back.live, true);
    now = await marks();
    assert.deepEqual([now.v1.live, now.v2.previous, now.v1.previous, now.v2.live], [
      true,
      true,
      false,
      false,
    ]);
    assert.equal(now.listing.live.production, v1.id);
    assert.equal(now.listing.previous.production, v2.id);
    assert.equal(now.listing.previous.staging, undefined, "staging never switched");
    // A plain rollback goes to the previous one: forward to v2, then back to v1.
    const plain = () => s.api(`/apps/${app}/environments/production/rollback`, { json: {} });
    assert.equal((await json(await plain(), 200)).id, v2.id);
    now = await marks();
    assert.deepEqual([now.v2.live, now.v1.previous], [true, true]);
    assert.equal((await json(await plain(), 200)).id, v1.id);
    const one = await json(await s.api(`/apps/${app}/deployments/${v1.id}`), 200);
    assert.deepEqual([one.live, one.previous], [true, false]);
    // Staging has no previous deployment: the id is required there.
    const refused = await json(
      await s.api(`/apps/${app}/environments/staging/rollback`, { json: {} }),
      400,
    );
    assert.match(String(refused.error), /deployment_id is required: .* no previous deployment/);
  });

  test(`[${backend}] a KV save without a ttl keeps the key's remaining expiry; GET shows it`, async (s) => {
    const app = appId("kvexp");
    const put = (key: string, body: unknown) =>
      s.api(`/apps/${app}/kv/${key}`, { method: "PUT", json: body });
    const read = async (key: string) =>
      await json<{ value: string; expires_at: string }>(await s.api(`/apps/${app}/kv/${key}`), 200);
    await json(await put("k", { value: "one", ttl: 3600 }), 200);
    const first = Date.parse((await read("k")).expires_at);
    assert.ok(Math.abs(first - (Date.now() + 3600_000)) < 5000, "expires in an hour");
    await json(await put("k", { value: "two" }), 200);
    const kept = await read("k");
    assert.equal(kept.value, "two");
    assert.ok(Math.abs(Date.parse(kept.expires_at) - first) < 1000, "the expiry was kept");
    await json(await put("k", { value: "three", ttl: 60 }), 200);
    assert.ok(Date.parse((await read("k")).expires_at) < Date.now() + 61_000, "a new ttl applies");
    await json(await put("fresh", { value: "x", ttl: null }), 200);
    const fresh = Date.parse((await read("fresh")).expires_at);
    assert.ok(Math.abs(fresh - (Date.now() + 30 * 86_400_000)) < 5000, "a new key gets 30 days");
    assert.match(
      String((await json(await put("k", { value: "x", ttl: "soon" }), 400)).error),
      /ttl must be/,
    );
  });
}

/** Runs `fn <args>` against server `url`; answers its exit code and stdout. */
async function fn(url: string, args: string[]): Promise<{ code: number; stdout: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env: { NO_COLOR: "1", FN_CONFIG: "/nonexistent/fn.json", FN_URL: url, FN_API_KEY: API_KEY },
  }).output();
  return { code: output.code, stdout: new TextDecoder().decode(output.stdout) };
}

serverTest(
  "fn deployments marks the live and previous ones; fn rollback with no id restores the previous",
  async (s) => {
    const app = appId("clim");
    const v1 = await s.deployOk(app, HELLO);
    const v2 = await s.deployOk(app, HELLO);
    const rolled = await fn(s.url, ["rollback", "--app", app]);
    assert.equal(rolled.code, 0);
    assert.equal(rolled.stdout.trim(), `${v1.id} is live in production`);
    const listing = await fn(s.url, ["deployments", "--app", app]);
    assert.match(listing.stdout, new RegExp(`${v1.id}  production  live `));
    assert.match(listing.stdout, new RegExp(`${v2.id}  production  previous `));
  },
);

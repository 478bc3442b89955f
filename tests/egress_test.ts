import assert from "node:assert/strict";
import { lookup } from "node:dns/promises";
import { blockedReason } from "../runtime/egress/address.ts";
import {
  appId,
  freePort,
  json,
  serverTest,
  startServer,
  suite,
  type TestServer,
} from "./helpers.ts";

/** A handler that fetches `?url=` and reports what happened, so the test sees the error text. */
const FETCHER = {
  "api/get.ts": `export default async (ctx) => {
    try {
      const response = await fetch(ctx.req.query.url, { headers: { authorization: "Bearer mine" } });
      return { body: { status: response.status, text: await response.text(), url: response.url, redirected: response.redirected } };
    } catch (error) {
      return { status: 502, body: { error: String(error.message ?? error) } };
    }
  };`,
};

/** A loopback upstream that records what reached it; `/to?u=` redirects to `u`. */
function startUpstream() {
  const seen: Array<{
    path: string;
    authorization: string | null;
    apiKey: string | null;
    cookie?: string | null;
    custom?: string | null;
  }> = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    seen.push({
      path: url.pathname,
      authorization: req.headers.get("authorization"),
      apiKey: req.headers.get("x-api-key"),
      ...(url.pathname.startsWith("/h")
        ? { cookie: req.headers.get("cookie"), custom: req.headers.get("x-auth") }
        : {}),
    });
    if (url.pathname === "/to") {
      return new Response(null, { status: 302, headers: { location: url.searchParams.get("u")! } });
    }
    return new Response(`upstream ${url.pathname}`);
  });
  return { seen, port: server.addr.port, close: () => server.shutdown() };
}

const upstream = startUpstream();
const second = startUpstream();
const hostAddresses = (await lookup(Deno.hostname(), { all: true })).map((a) => a.address);

/** What the FETCHER handler answers: the upstream's answer (200) or the fetch error (502). */
interface Fetched {
  error?: string;
  status?: number;
  text?: string;
  redirected?: boolean;
}

async function fetchVia(s: TestServer, app: string, url: string): Promise<Fetched> {
  const response = await s.call(app, `/get?url=${encodeURIComponent(url)}`);
  return await json<Fetched>(response, response.status === 502 ? 502 : 200);
}

const refused: Array<[string, string, RegExp]> = [
  ["IPv4-compatible IPv6", `http://[::127.0.0.1]:${upstream.port}/`, /IPv4-compatible|loopback/],
  ["IPv4-translated IPv6", `http://[::ffff:0:127.0.0.1]:${upstream.port}/`, /IPv4-translated/],
  ["local-use NAT64", `http://[64:ff9b:1::7f00:1]:${upstream.port}/`, /local-use NAT64/],
  ["6to4", `http://[2002:7f00:1::1]:${upstream.port}/`, /6to4/],
  ["site-local IPv6", `http://[fec0::1]:${upstream.port}/`, /site-local/],
  ["loopback", `http://127.0.0.1:${upstream.port}/secret`, /refused: 127\.0\.0\.1 is loopback/],
  ["localhost", `http://localhost:${upstream.port}/secret`, /loopback addresses are not reachable/],
  ["IPv6 loopback", `http://[::1]:${upstream.port}/secret`, /loopback/],
  ["IPv4-mapped IPv6 loopback", `http://[::ffff:127.0.0.1]:${upstream.port}/`, /loopback/],
  ["the unspecified address", `http://0.0.0.0:${upstream.port}/`, /refused/],
  ["a decimal-encoded loopback", `http://2130706433:${upstream.port}/`, /loopback/],
  ["a hex-encoded loopback", `http://0x7f.1:${upstream.port}/`, /loopback/],
  ["10/8", "http://10.1.2.3/", /10\.1\.2\.3 is a private network \(10\/8\)/],
  ["172.16/12", "http://172.20.0.1/", /private/],
  ["192.168/16", "http://192.168.1.1/", /private/],
  ["169.254.169.254 (cloud metadata)", "http://169.254.169.254/latest/meta-data/", /link-local/],
  ["fc00::/7", "http://[fd12:3456::1]/", /unique-local network \(fc00::\/7\)/],
  ["fe80::/10", "http://[fe80::1]/", /link-local/],
  ["a non-HTTP scheme", "file:///etc/passwd", /only http: and https: URLs/],
];

for (const [what, url, pattern] of refused) {
  serverTest(`fetch to ${what} fails inside a handler with a clear error`, async (s) => {
    const app = appId("egress");
    await s.deployOk(app, FETCHER);
    const before = upstream.seen.length;
    const body = await fetchVia(s, app, url);
    assert.match(String(body.error), pattern);
    assert.equal(upstream.seen.length, before, "nothing reached the loopback upstream");
  });
}

serverTest("fetch to a host name that resolves to a loopback address is refused", async (s) => {
  // This machine's own host name resolves through /etc/hosts to a non-public address.
  assert.ok(hostAddresses.length > 0 && hostAddresses.every((a) => blockedReason(a) !== null));
  const app = appId("egress");
  await s.deployOk(app, FETCHER);
  const body = await fetchVia(s, app, `http://${Deno.hostname()}:${upstream.port}/secret`);
  assert.match(String(body.error), /refused: it resolves to .*, which functions cannot reach/);
});

serverTest("fetch to the platform's own API address is refused", async (s) => {
  const app = appId("egress");
  await s.deployOk(app, FETCHER);
  const body = await fetchVia(s, app, `${s.url}/healthz`);
  assert.match(String(body.error), /refused/);
});

/** A server whose egress rule lets functions reach the loopback upstream, with a credential. */
const allowed = suite(() =>
  startServer({
    env: {
      EGRESS_RULES: JSON.stringify([{
        origin: `http://127.0.0.1:${upstream.port}`,
        headers: { "x-api-key": "{UPSTREAM_KEY}" },
        allowPrivate: true,
      }, { origin: `http://127.0.0.1:${second.port}`, allowPrivate: true }]),
    },
  })
);

allowed(
  "an explicitly allowed upstream is reachable and a redirect within it is followed",
  async (s) => {
    const app = appId("egress");
    await s.deployOk(app, FETCHER);
    await s.setVar(app, "production", "UPSTREAM_KEY", "k-123");
    const target = `http://127.0.0.1:${upstream.port}/to?u=/final`;
    const body = await fetchVia(s, app, target);
    assert.equal(body.text, "upstream /final");
    assert.equal(body.redirected, true);
  },
);

allowed(
  "a redirect from an allowed upstream to a private or loopback address is refused",
  async (s) => {
    const app = appId("egress");
    await s.deployOk(app, FETCHER);
    await s.setVar(app, "production", "UPSTREAM_KEY", "k-123");
    for (
      const [location, pattern] of [
        ["http://169.254.169.254/latest/meta-data/", /link-local/],
        ["http://10.0.0.7/", /private/],
        [`http://localhost:${upstream.port}/secret`, /loopback/],
        [`http://[::1]:${upstream.port}/secret`, /loopback/],
      ] as const
    ) {
      const before = upstream.seen.length;
      const body = await fetchVia(
        s,
        app,
        `http://127.0.0.1:${upstream.port}/to?u=${encodeURIComponent(location)}`,
      );
      assert.match(String(body.error), pattern, location);
      assert.equal(upstream.seen.length, before + 1, "only the redirecting hop reached loopback");
    }
  },
);

allowed(
  "a credential rule adds the header from the app's secret on the host side, never in the sandbox",
  async (s) => {
    const app = appId("egress");
    await s.deployOk(app, {
      ...FETCHER,
      "api/env.ts": "export default (ctx) => ({ body: { keys: Object.keys(ctx.env) } })",
    });
    await s.setVar(app, "production", "UPSTREAM_KEY", "k-secret-42");
    await s.setVar(app, "production", "VISIBLE", "v");
    const before = upstream.seen.length;
    const body = await fetchVia(s, app, `http://127.0.0.1:${upstream.port}/data`);
    assert.equal(body.text, "upstream /data");
    const hit = upstream.seen[before]!;
    assert.equal(hit.apiKey, "k-secret-42");
    assert.equal(hit.authorization, "Bearer mine");
    // The secret a rule uses is withheld from ctx.env; other variables are there.
    assert.deepEqual(await json(await s.call(app, "/env"), 200), { keys: ["VISIBLE"] });
  },
);

allowed(
  "a withheld secret that holds a line break fails the fetch without showing its value",
  async (s) => {
    const app = appId("egress");
    await s.deployOk(app, FETCHER);
    await s.setVar(app, "production", "UPSTREAM_KEY", "k-line\r\nx-evil: 1");
    const before = upstream.seen.length;
    const body = await fetchVia(s, app, `http://127.0.0.1:${upstream.port}/data`);
    assert.match(String(body.error), /x-api-key header is not a valid header value/);
    assert.ok(!String(body.error).includes("k-line"), String(body.error));
    assert.equal(upstream.seen.length, before);
    const logs = JSON.stringify(await s.logs(app));
    assert.ok(!logs.includes("k-line"), "the secret reached the logs");
  },
);

allowed(
  "a credential rule whose secret is not set fails the fetch naming the secret",
  async (s) => {
    const app = appId("egress");
    await s.deployOk(app, FETCHER);
    const before = upstream.seen.length;
    const body = await fetchVia(s, app, `http://127.0.0.1:${upstream.port}/data`);
    assert.match(String(body.error), /needs the secret UPSTREAM_KEY, which this app has not set/);
    assert.equal(upstream.seen.length, before);
  },
);

allowed("credentials are not carried when a redirect leaves the origin", async (s) => {
  const app = appId("egress");
  await s.deployOk(app, FETCHER);
  await s.setVar(app, "production", "UPSTREAM_KEY", "k");
  const before = upstream.seen.length;
  const elsewhere = `http://127.0.0.1:${second.port}/next`;
  const body = await fetchVia(
    s,
    app,
    `http://127.0.0.1:${upstream.port}/to?u=${encodeURIComponent(elsewhere)}`,
  );
  assert.equal(body.text, "upstream /next");
  assert.deepEqual(upstream.seen[before], {
    path: "/to",
    authorization: "Bearer mine",
    apiKey: "k",
  });
  assert.deepEqual(second.seen.at(-1), { path: "/next", authorization: null, apiKey: null });
});

allowed("a request may make at most 100 outbound fetches", async (s) => {
  const app = appId("egress");
  await s.deployOk(app, {
    "api/many.ts": `export default async () => {
      let ok = 0;
      for (let i = 0; i < 101; i++) {
        try {
          await (await fetch("http://127.0.0.1:${second.port}/n")).text();
          ok++;
        } catch (error) {
          return { body: { ok, error: error.message } };
        }
      }
      return { body: { ok } };
    };`,
  });
  assert.deepEqual(await json(await s.call(app, "/many"), 200), {
    ok: 100,
    error: "fetch: a request may make at most 100 outbound fetches",
  });
});

Deno.test("an outbound fetch shares the request's time budget", async () => {
  const slow = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async () => {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    return new Response("late");
  });
  const s = await startServer({
    env: {
      FUNCTION_TIMEOUT_MS: "500",
      EGRESS_RULES: JSON.stringify([{
        origin: `http://127.0.0.1:${slow.addr.port}`,
        allowPrivate: true,
      }]),
    },
  });
  try {
    const app = appId("egress");
    await s.deployOk(app, FETCHER);
    const started = performance.now();
    const response = await s.call(
      app,
      `/get?url=${encodeURIComponent(`http://127.0.0.1:${slow.addr.port}/`)}`,
    );
    await response.body?.cancel();
    assert.ok([502, 504].includes(response.status), `status ${response.status}`);
    assert.ok(performance.now() - started < 1200, "the fetch did not outlive the budget");
  } finally {
    await s.close();
    await slow.shutdown();
  }
});

allowed(
  "a credential rule matches its origin exactly: another port never gets the secret",
  async (s) => {
    const app = appId("egress");
    await s.deployOk(app, FETCHER);
    await s.setVar(app, "production", "UPSTREAM_KEY", "k-exact");
    // The second upstream is on the same host, another port, with its own (header-less) rule.
    const before = second.seen.length;
    const body = await fetchVia(s, app, `http://127.0.0.1:${second.port}/other`);
    assert.equal(body.text, "upstream /other");
    assert.equal(second.seen[before]!.apiKey, null);
  },
);

Deno.test({
  name: "a rule's origin is https by default: the same host over http gets no secret",
  async fn() {
    const s = await startServer({
      env: {
        EGRESS_RULES: JSON.stringify([{
          host: `127.0.0.1:${upstream.port}`,
          headers: { "x-api-key": "{UPSTREAM_KEY}" },
          allowPrivate: true,
        }]),
      },
    });
    try {
      const app = appId("egress");
      await s.deployOk(app, FETCHER);
      await s.setVar(app, "production", "UPSTREAM_KEY", "k-https-only");
      const before = upstream.seen.length;
      const body = await fetchVia(s, app, `http://127.0.0.1:${upstream.port}/plain`);
      assert.match(String(body.error), /loopback/);
      assert.equal(upstream.seen.length, before, "nothing reached the upstream over http");
    } finally {
      await s.close();
    }
  },
});

Deno.test({
  name: "an allowPrivate rule that names the platform itself cannot reach the platform's API",
  async fn() {
    const port = freePort();
    const s = await startServer({
      port,
      env: {
        EGRESS_RULES: JSON.stringify([
          { origin: `http://localhost:${port}`, allowPrivate: true },
          { origin: `http://127.0.0.1:${port}`, allowPrivate: true },
        ]),
      },
    });
    try {
      const app = appId("egress");
      await s.deployOk(app, FETCHER);
      for (const url of [`http://localhost:${port}/healthz`, `http://127.0.0.1:${port}/healthz`]) {
        const body = await fetchVia(s, app, url);
        assert.match(String(body.error), /is one of the platform's own services/, url);
      }
    } finally {
      await s.close();
    }
  },
});

allowed("cookies and custom auth headers do not follow a redirect to another origin", async (s) => {
  const app = appId("egress");
  await s.deployOk(app, {
    "api/h.ts": `export default async (ctx) => {
      const response = await fetch(ctx.req.query.url, {
        headers: { cookie: "session=abc", "x-auth": "token-1", accept: "text/plain" },
      });
      return { body: await response.text() };
    };`,
  });
  await s.setVar(app, "production", "UPSTREAM_KEY", "k");
  const before = second.seen.length;
  const elsewhere = `http://127.0.0.1:${second.port}/h-next`;
  const first = `http://127.0.0.1:${upstream.port}/to?u=${encodeURIComponent(elsewhere)}`;
  const response = await s.call(app, `/h?url=${encodeURIComponent(first)}`);
  assert.equal(await response.text(), "upstream /h-next");
  const hit = second.seen[before]!;
  assert.equal(hit.cookie, null);
  assert.equal(hit.custom, null);
  assert.equal(hit.apiKey, null);
});

allowed(
  "a handler's redirect mode is honoured: manual returns the 3xx, error rejects",
  async (s) => {
    const app = appId("egress");
    await s.deployOk(app, {
      "api/r.ts": `export default async (ctx) => {
      const url = ctx.req.query.url;
      const manual = await fetch(url, { redirect: "manual" });
      let error = null;
      try { await fetch(url, { redirect: "error" }); } catch (e) { error = e.message; }
      return { body: { status: manual.status, location: manual.headers.get("location"), error } };
    };`,
    });
    await s.setVar(app, "production", "UPSTREAM_KEY", "k");
    const target = `http://127.0.0.1:${upstream.port}/to?u=/final`;
    const body = await json(await s.call(app, `/r?url=${encodeURIComponent(target)}`), 200);
    assert.equal(body.status, 302);
    assert.equal(body.location, "/final");
    assert.match(String(body.error), /redirect is "error"/);
  },
);

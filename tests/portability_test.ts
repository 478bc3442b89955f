/**
 * Code written for other platforms, deployed unchanged and called over HTTP on the app's own
 * host: Workers modules (a real Hono app among them), per-method named exports, every kind of
 * returned `Response`, raw request bodies checked against webhook signatures computed here with
 * Web Crypto, and the errors that teach (`Deno.env`, `process`, module types, shapes).
 */
import assert from "node:assert/strict";
import {
  API_KEY,
  appId,
  json,
  serverTest,
  startServer,
  type TestServer,
  waitFor,
} from "./helpers.ts";

/** Calls `path` on the app's own host `<app>.localhost`, as curl on that host would. */
function onHost(s: TestServer, app: string, path: string, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  headers.set("host", `${app}.localhost`);
  return s.request(path, { ...init, headers, redirect: "manual" });
}

/** The lower-case hex HMAC-SHA256 of `data` under `secret`, with Web Crypto. */
async function hmacHex(secret: string, data: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(data)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Handler-side HMAC, the same Web Crypto calls a webhook library makes. */
const HMAC_SOURCE = `
export async function hmacHex(secret, bytes) {
  const key = await crypto.subtle.importKey(
    "raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, bytes));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}
`;

/** A body JSON.parse would change: integers past 2^53, irregular spacing, a repeated key. */
const WEBHOOK_BODY =
  '{"id": 12345678901234567890,  "amount":9007199254740993 ,\n "a":  "x", "a": "y"}';

serverTest(
  "a Workers module gets a web Request of the URL called, env and the platform ctx",
  async (s) => {
    const app = appId("workers");
    await s.deployOk(app, {
      "api/w/[id].ts": `export default {
      async fetch(request, env, ctx) {
        ctx.waitUntil(ctx.kv.set("after", "done"));
        return Response.json({
          url: request.url,
          method: request.method,
          body: await request.text(),
          type: request.headers.get("content-type"),
          greeting: env.GREETING ?? null,
          params: ctx.params,
          self: this === undefined ? "none" : typeof this.fetch,
        });
      },
    };`,
    });
    assert.equal((await s.setVar(app, "production", "GREETING", "hi")).status, 201);
    const body = '{"broken": ';
    const response = await onHost(s, app, "/functions/w/7?b=2&a=1&b=3", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    assert.equal(response.headers.get("content-type"), "application/json");
    assert.deepEqual(await json(response, 200), {
      url: `http://${app}.localhost/functions/w/7?b=2&a=1&b=3`,
      method: "POST",
      // Not parsed, so a body the seed's ctx.req would refuse with 400 reaches the code as sent.
      body,
      type: "application/json",
      greeting: "hi",
      params: { id: "7" },
      self: "function",
    });
  },
);

serverTest(
  "a Hono app behind an optional catch-all serves its folder's own path too",
  async (s) => {
    // A real Hono, bundled into one file the way any bundler would; `export default app`.
    const entry = await Deno.makeTempFile({ suffix: ".ts" });
    const out = `${entry}.js`;
    await Deno.writeTextFile(entry, 'export { Hono } from "hono";');
    const bundled = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "browser", entry, "-o", out],
      cwd: new URL("..", import.meta.url).pathname,
    }).output();
    assert.equal(bundled.code, 0, new TextDecoder().decode(bundled.stderr));
    const hono = await Deno.readTextFile(out);
    await Deno.remove(entry);
    await Deno.remove(out);
    const app = appId("hono");
    const deployed = await s.deployOk(app, {
      "lib/hono.js": hono,
      "api/[[...rest]].ts": `import { Hono } from "../lib/hono.js";
      const app = new Hono().basePath("/functions");
      app.get("/", (c) => c.html("<h1>home</h1>"));
      app.get("/users/:id", (c) => c.json({ id: c.req.param("id"), q: c.req.query("q") }));
      app.post("/echo", async (c) => c.text(await c.req.text(), 201));
      export default app;`,
    });
    assert.deepEqual(deployed.routes.map((r) => r.pattern), ["/functions/[[...rest]]"]);
    const home = await onHost(s, app, "/functions");
    assert.equal(home.status, 200);
    assert.match(home.headers.get("content-type") ?? "", /^text\/html/);
    assert.equal(await home.text(), "<h1>home</h1>");
    assert.deepEqual(await json(await onHost(s, app, "/functions/users/42?q=z"), 200), {
      id: "42",
      q: "z",
    });
    const echoed = await onHost(s, app, "/functions/echo", { method: "POST", body: "a  b" });
    assert.equal(echoed.status, 201);
    assert.equal(await echoed.text(), "a  b");
    assert.equal((await onHost(s, app, "/functions/nope")).status, 404);
    // The shared form hands the app the same /functions path, so the same routes answer.
    assert.deepEqual(await json(await s.call(app, "/users/5"), 200), { id: "5" });
    // The folder's own path cannot have two files.
    const clash = await json(
      await s.deploy(appId(), {
        "api/index.ts": "export default () => ({});",
        "api/[[...rest]].ts": "export default () => ({});",
      }),
      400,
    );
    assert.match(
      JSON.stringify(clash.diagnostics),
      /api\/index\.ts and api\/\[\[\.\.\.rest\]\]\.ts both serve/,
    );
  },
);

serverTest(
  "named method exports: HEAD falls back to GET, OPTIONS 204 and 405 list Allow",
  async (s) => {
    const app = appId("methods");
    await s.deployOk(app, {
      "api/items/[id].ts": `
      export async function GET(request, ctx) {
        const p = await ctx.params;
        return Response.json({ id: p.id, method: request.method }, { headers: { "x-id": p.id } });
      }
      export async function POST(request, { params, env }) {
        return new Response(params.id + ":" + (await request.text()), { status: 201 });
      }`,
      "api/opts.ts":
        `export const OPTIONS = () => new Response(null, { status: 204, headers: { "x-own": "1" } });
      export const DELETE = () => new Response(null, { status: 204 });`,
    });
    const got = await onHost(s, app, "/functions/items/3");
    assert.equal(got.headers.get("x-id"), "3");
    assert.deepEqual(await json(got, 200), { id: "3", method: "GET" });
    const head = await onHost(s, app, "/functions/items/3", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("x-id"), "3");
    assert.equal(await head.text(), "");
    const posted = await onHost(s, app, "/functions/items/3", { method: "POST", body: "x y" });
    assert.equal(posted.status, 201);
    assert.equal(await posted.text(), "3:x y");
    const options = await onHost(s, app, "/functions/items/3", { method: "OPTIONS" });
    assert.equal(options.status, 204);
    assert.equal(options.headers.get("allow"), "GET, HEAD, POST, OPTIONS");
    const refused = await onHost(s, app, "/functions/items/3", { method: "PUT", body: "{}" });
    assert.equal(refused.headers.get("allow"), "GET, HEAD, POST, OPTIONS");
    assert.match((await json(refused, 405)).error as string, /PUT is not allowed/);
    const own = await onHost(s, app, "/functions/opts", { method: "OPTIONS" });
    assert.equal(own.status, 204);
    assert.equal(own.headers.get("x-own"), "1");
    assert.equal(
      (await onHost(s, app, "/functions/opts", { method: "GET" })).headers.get("allow"),
      "DELETE, OPTIONS",
    );
  },
);

serverTest(
  "a returned Response keeps its status, headers, cookies, type and streamed body",
  async (s) => {
    const app = appId("responses");
    await s.deployOk(app, {
      "api/html.ts": `export default () => new Response("<p>hi</p>", {
      headers: { "content-type": "text/html; charset=utf-8", "x-frame-options": "DENY" } });`,
      "api/json.ts": `export default () => Response.json({ ok: true }, { status: 201 });`,
      "api/redirect.ts": `export default () => Response.redirect("https://example.com/next", 307);`,
      "api/empty.ts":
        `export default () => new Response(null, { status: 204, headers: { "x-a": "1" } });`,
      "api/cookies.ts": `export default () => {
      const headers = new Headers();
      headers.append("set-cookie", "a=1; Path=/; Expires=Wed, 21 Oct 2037 07:28:00 GMT");
      headers.append("set-cookie", "b=2; Path=/; HttpOnly");
      return new Response("ok", { headers });
    };`,
      "api/seed_cookies.ts": `export default () => ({
      headers: { "set-cookie": ["c=3; Path=/", "d=4; Path=/"], "x-n": 5 }, body: "ok" });`,
      "api/seed_headers.ts": `export default () => ({
      headers: new Headers({ "content-type": "text/csv" }), body: "a,b" });`,
      "api/stream.ts": `export default () => new Response(new ReadableStream({
      async pull(controller) {
        for (const part of ["one ", "two ", "three"]) {
          controller.enqueue(new TextEncoder().encode(part));
          await new Promise((r) => setTimeout(r, 20));
        }
        controller.close();
      },
    }), { headers: { "content-type": "text/plain" } });`,
      "api/bad_value.ts": `export default () => ({ headers: { "x-bad": "a\\nb" } });`,
      "api/bad_type.ts": `export default () => ({ headers: { "x-obj": { nested: 1 } } });`,
      "api/framing.ts":
        `export default () => new Response("hello", { headers: { "content-length": "5" } });`,
    });
    const html = await onHost(s, app, "/functions/html");
    assert.equal(html.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(html.headers.get("x-frame-options"), "DENY");
    assert.equal(await html.text(), "<p>hi</p>");
    const data = await onHost(s, app, "/functions/json");
    assert.equal(data.headers.get("content-type"), "application/json");
    assert.deepEqual(await json(data, 201), { ok: true });
    const moved = await onHost(s, app, "/functions/redirect");
    assert.equal(moved.status, 307);
    assert.equal(moved.headers.get("location"), "https://example.com/next");
    await moved.body?.cancel();
    const empty = await onHost(s, app, "/functions/empty");
    assert.equal(empty.status, 204);
    assert.equal(empty.headers.get("x-a"), "1");
    const cookies = await onHost(s, app, "/functions/cookies");
    assert.deepEqual(cookies.headers.getSetCookie(), [
      "a=1; Path=/; Expires=Wed, 21 Oct 2037 07:28:00 GMT",
      "b=2; Path=/; HttpOnly",
    ]);
    assert.equal(await cookies.text(), "ok");
    const seed = await onHost(s, app, "/functions/seed_cookies");
    assert.deepEqual(seed.headers.getSetCookie(), ["c=3; Path=/", "d=4; Path=/"]);
    assert.equal(seed.headers.get("x-n"), "5");
    await seed.body?.cancel();
    const csv = await onHost(s, app, "/functions/seed_headers");
    assert.equal(csv.headers.get("content-type"), "text/csv");
    assert.equal(await csv.text(), "a,b");
    const streamed = await onHost(s, app, "/functions/stream");
    assert.equal(streamed.headers.get("content-type"), "text/plain");
    assert.equal(await streamed.text(), "one two three");
    // On the shared form, cookies are the origin rules' to drop (and each drop is logged).
    const shared = await s.call(app, "/cookies");
    assert.deepEqual(shared.headers.getSetCookie(), []);
    await shared.body?.cancel();
    assert.match(
      (await json(await onHost(s, app, "/functions/bad_value"), 500)).error as string,
      /header "x-bad" has an invalid name or value/,
    );
    assert.match(
      (await json(await onHost(s, app, "/functions/bad_type"), 500)).error as string,
      /header "x-obj" must be a string/,
    );
    const framed = await onHost(s, app, "/functions/framing");
    assert.equal(await framed.text(), "hello");
    await waitFor("the logged drops", async () => {
      const lines = (await s.logs(app)).map((entry) => entry.message).join("\n");
      return /content-length header was dropped/.test(lines) &&
        /Set-Cookie header\(s\) dropped/.test(lines);
    }, 5_000);
  },
);

serverTest(
  "webhook signatures verify over the raw bytes: Stripe style and GitHub style",
  async (s) => {
    const app = appId("webhooks");
    await s.deployOk(app, {
      "lib/hmac.js": HMAC_SOURCE,
      // The seed's shape: ctx.req.rawBody beside the parsed body.
      "api/stripe.ts": `import { hmacHex } from "../lib/hmac.js";
      export default async (ctx) => {
        const fields = Object.fromEntries(ctx.req.headers["stripe-signature"].split(",").map((f) => f.split("=")));
        const signed = new Uint8Array([...new TextEncoder().encode(fields.t + "."), ...ctx.req.rawBody]);
        const ok = (await hmacHex(ctx.env.WHSEC, signed)) === fields.v1;
        return { status: ok ? 200 : 401, body: { ok, text: await ctx.request.text() === new TextDecoder().decode(ctx.req.rawBody) } };
      };`,
      // The Workers shape: await request.text().
      "api/github.ts": `import { hmacHex } from "../lib/hmac.js";
      export default { async fetch(request, env) {
        const body = await request.text();
        const expected = "sha256=" + await hmacHex(env.WHSEC, new TextEncoder().encode(body));
        const ok = request.headers.get("x-hub-signature-256") === expected;
        return Response.json({ ok, event: request.headers.get("x-github-event") }, { status: ok ? 200 : 401 });
      } };`,
      "api/form.ts": `export default async (ctx) => ({ body: {
      parsed: ctx.req.body, raw: new TextDecoder().decode(ctx.req.rawBody),
      fields: [...(await ctx.request.formData())] } });`,
    });
    assert.equal((await s.setVar(app, "production", "WHSEC", "whsec_test_secret")).status, 201);
    const t = "1733040000";
    const v1 = await hmacHex("whsec_test_secret", `${t}.${WEBHOOK_BODY}`);
    const stripe = (signature: string) =>
      onHost(s, app, "/functions/stripe", {
        method: "POST",
        headers: { "content-type": "application/json", "stripe-signature": signature },
        body: WEBHOOK_BODY,
      });
    assert.deepEqual(await json(await stripe(`t=${t},v1=${v1}`), 200), { ok: true, text: true });
    assert.deepEqual(
      await json(await stripe(`t=${t},v1=${v1.replace(/^./, v1[0] === "0" ? "1" : "0")}`), 401),
      { ok: false, text: true },
    );
    const github = (body: string, signature: string) =>
      onHost(s, app, "/functions/github", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": "push",
          "x-hub-signature-256": signature,
        },
        body,
      });
    const sig = `sha256=${await hmacHex("whsec_test_secret", WEBHOOK_BODY)}`;
    assert.deepEqual(await json(await github(WEBHOOK_BODY, sig), 200), { ok: true, event: "push" });
    assert.deepEqual(await json(await github(`${WEBHOOK_BODY} `, sig), 401), {
      ok: false,
      event: "push",
    });
    const form = await onHost(s, app, "/functions/form", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "a=1&b=2&a=3",
    });
    assert.deepEqual(await json(form, 200), {
      parsed: { a: ["1", "3"], b: "2" },
      raw: "a=1&b=2&a=3",
      fields: [["a", "1"], ["b", "2"], ["a", "3"]],
    });
  },
);

serverTest(
  "a Workers module's scheduled runs on its schedule; a method module's GET does",
  async (s) => {
    const app = appId("cronshapes");
    await s.deployOk(app, {
      "api/worker.ts": `export const schedule = { cron: "0 3 * * *" };
      export default {
        fetch: async (request, env, ctx) => new Response(await ctx.kv.get("worker")),
        async scheduled(event, env, ctx) {
          ctx.waitUntil(ctx.kv.set("worker", event.type + " " + event.cron + " " + typeof event.scheduledTime));
        },
      };`,
      "api/vercel.ts": `export const schedule = { cron: "0 4 * * *" };
      export async function GET(request, ctx) {
        await ctx.kv.set("vercel", request.method + " " + new URL(request.url).pathname);
        return new Response("ran");
      }`,
    });
    for (const file of ["api/worker.ts", "api/vercel.ts"]) {
      const run = await json(
        await s.api(`/apps/${app}/schedules/run`, { json: { function: file } }),
        200,
      );
      assert.equal(run.outcome, "ok", JSON.stringify(run));
    }
    assert.equal(
      await (await onHost(s, app, "/functions/worker")).text(),
      "scheduled 0 3 * * * number",
    );
    const kv = await json(await s.api(`/apps/${app}/kv/vercel`), 200);
    assert.equal(kv.value, "GET /functions/vercel");
  },
);

serverTest(
  "Deno.env is a read-only view of the variables; process errors name ctx.env",
  async (s) => {
    const app = appId("habits");
    await s.deployOk(app, {
      "api/env.ts": `export default () => {
      let set = "";
      try { Deno.env.set("X", "1"); } catch (error) { set = error.message; }
      return { body: { mode: Deno.env.get("MODE") ?? null, has: Deno.env.has("MODE"),
        all: Deno.env.toObject(), home: Deno.env.get("HOME") ?? null, set,
        process: typeof process } };
    };`,
      "api/node.ts": `export default () => ({ body: process.env.MODE });`,
    });
    assert.equal((await s.setVar(app, "production", "MODE", "live")).status, 201);
    const body = await json(await onHost(s, app, "/functions/env"), 200);
    assert.equal(body.mode, "live");
    assert.equal(body.has, true);
    // The app's variables and nothing of the host's environment.
    assert.deepEqual(body.all, { MODE: "live" });
    assert.equal(body.home, null);
    assert.match(body.set as string, /read-only view of the app's variables/);
    assert.equal(body.process, "undefined");
    const node = await json(await onHost(s, app, "/functions/node"), 500);
    assert.match(node.error as string, /process is not defined .*ctx\.env/);
  },
);

serverTest(
  "a default-export (req) => Response handler, which receives ctx, is told in its log what to write",
  async (s) => {
    const app = appId("webstd");
    await s.deployOk(app, {
      "api/w.ts": `export default (req) => new Response(new URL(req.url).pathname);`,
    });
    const failed = await json(await onHost(s, app, "/functions/w"), 500);
    assert.match(failed.error as string, /Invalid URL/);
    let hint = "";
    await waitFor("the hint", async () => {
      const page = await s.logPage(app);
      hint = page.entries.find((e) => /ctx\.url is undefined/.test(e.message))?.message ?? "";
      return hint !== "";
    });
    assert.match(
      hint,
      /receives the platform's ctx, not a web Request\. Read ctx\.request .* export GET\(request\)/,
    );
  },
);

serverTest(
  "module types and shapes the platform cannot call are refused at deploy, naming what works",
  async (s) => {
    for (
      const [file, hint] of [
        ["api/a.mjs", /rename it to \.js/],
        ["api/a.cjs", /CommonJS is not supported/],
        ["api/a.jsx", /JSX is not compiled/],
        ["api/a.tsx", /JSX is not compiled/],
      ] as const
    ) {
      const body = await json(
        await s.deploy(appId(), { "api/ok.ts": "export default () => ({});", [file]: "x" }),
        400,
      );
      const diagnostic = (body.diagnostics as Array<{ file: string; message: string }>)[0]!;
      assert.equal(diagnostic.file, file);
      assert.match(diagnostic.message, /must be \.ts or \.js/);
      assert.match(diagnostic.message, hint);
    }
    for (
      const [source, message] of [
        [
          "export default { body: 1 };",
          /must be a function, got object with no fetch method; a route file exports one of: .*fetch\(request, env, ctx\).*GET\(request, ctx\)/,
        ],
        [
          "export default () => ({}); export function GET() {}",
          /both a default export and method handlers \(GET\)/,
        ],
        ["export const helper = 1;", /no default export: a route file exports one of/],
        ["export const GET = 1;", /the GET export must be a function/],
        [
          "export const schedule = { cron: '* * * * *' }; export default { fetch() {} };",
          /no scheduled\(event, env, ctx\) method/,
        ],
      ] as const
    ) {
      const body = await json(await s.deploy(appId(), { "api/x.ts": source }), 400);
      const diagnostic = (body.diagnostics as Array<{ file: string; message: string }>)[0]!;
      assert.equal(diagnostic.file, "api/x.ts");
      assert.match(diagnostic.message, message);
      // The file is named once, by the diagnostic, not again inside its message.
      assert.doesNotMatch(diagnostic.message, /api\/x\.ts/);
    }
  },
);

Deno.test("fn deploy refuses .mjs, .cjs, .jsx and .tsx under api/ by name instead of skipping them", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/api/ui`, { recursive: true });
  await Deno.writeTextFile(`${dir}/api/ok.ts`, "export default () => ({});");
  await Deno.writeTextFile(`${dir}/api/ui/page.tsx`, "export default () => <p/>;");
  await Deno.writeTextFile(`${dir}/api/old.cjs`, "module.exports = () => ({});");
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../cli/main.ts", import.meta.url).pathname,
      "deploy",
      dir,
      "--app",
      "demo",
    ],
    env: { NO_COLOR: "1", FN_CONFIG: "/nonexistent/fn.json" },
  }).output();
  await Deno.remove(dir, { recursive: true });
  const stderr = new TextDecoder().decode(output.stderr);
  assert.notEqual(output.code, 0);
  assert.match(
    stderr,
    /api\/ui\/page\.tsx: files under api\/ must be \.ts or \.js; JSX is not compiled/,
  );
  assert.match(
    stderr,
    /api\/old\.cjs: files under api\/ must be \.ts or \.js; CommonJS is not supported/,
  );
});

Deno.test("a function sees who called in X-Forwarded-For and X-Real-IP, which a client cannot forge", async () => {
  const source = {
    "api/ip.ts": `export default (ctx) => ({ body: {
      forwarded: ctx.req.headers["x-forwarded-for"] ?? null,
      real: ctx.req.headers["x-real-ip"] ?? null,
      forwardedHeader: ctx.req.headers["forwarded"] ?? null,
    } })`,
  };
  const spoofed = {
    "x-forwarded-for": "6.6.6.6",
    "x-real-ip": "6.6.6.6",
    forwarded: "for=6.6.6.6",
  };
  // Served directly (over a real socket): the connection's own address, whatever the client
  // claims.
  const direct = await startServer();
  try {
    const app = appId("ip");
    await direct.deployOk(app, source);
    assert.deepEqual(
      await json(await fetch(`${direct.url}/apps/${app}/functions/ip`, { headers: spoofed }), 200),
      { forwarded: "127.0.0.1", real: "127.0.0.1", forwardedHeader: null },
    );
  } finally {
    await direct.close();
  }
  // Behind a proxy (TRUST_PROXY=true): its list is kept, and its last entry is the client.
  const proxied = await startServer({ env: { TRUST_PROXY: "true" } });
  try {
    const app = appId("ip");
    await proxied.deployOk(app, source);
    assert.deepEqual(
      await json(
        await fetch(`${proxied.url}/apps/${app}/functions/ip`, {
          headers: { "x-forwarded-for": `6.6.6.6, ${API_KEY}, 203.0.113.7` },
        }),
        200,
      ),
      // No platform key reaches the function in it either.
      {
        forwarded: "6.6.6.6, [platform key removed], 203.0.113.7",
        real: "203.0.113.7",
        forwardedHeader: null,
      },
    );
  } finally {
    await proxied.close();
  }
});

serverTest(
  "the seed ctx's request is an own property: a copy of ctx and an object made from it read it",
  async (s) => {
    const app = appId("ctxcopy");
    await s.deployOk(app, {
      "api/copy.ts": `export default async (ctx) => {
        const copy = { ...ctx, user: "u" };
        const derived = Object.create(ctx);
        return { body: {
          keys: Object.keys(ctx).sort(),
          copied: await copy.request.text(),
          derived: derived.request === ctx.request,
          method: ctx.request.method,
          frozen: Object.isFrozen(ctx),
        } };
      };`,
    });
    const response = await s.call(app, "/copy", { method: "POST", body: "hello" });
    assert.deepEqual(await json(response, 200), {
      keys: ["env", "kv", "req", "request", "sse", "waitUntil"],
      copied: "hello",
      derived: true,
      method: "POST",
      frozen: true,
    });
  },
);

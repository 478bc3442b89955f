/**
 * The hostile-tenant corpus: code a tenant deploys, and requests an anonymous client sends to
 * it, aimed at the host (log rewriting, compiling, egress, KV, origins, the HTTP edge, the
 * sandbox). Each attack must get its clear answer while another app keeps answering within
 * 1 s; after all of them the victim app is healthy, on the same deployment, with its KV intact.
 */
import assert from "node:assert/strict";
import {
  json,
  probing,
  rawHttp,
  readHttpResponse,
  startServer,
  type TestServer,
  waitFor,
} from "./helpers.ts";

/** One attack: a route of the attacker app (or a deploy), what it sends, and what must come back. */
interface Attack {
  name: string;
  /** Runs the attack against the server; asserts its outcome. */
  run(s: TestServer): Promise<void>;
}

const ATTACKER = "attacker";
const VICTIM = "victim";
const CALM = "calm";
const attacks: Attack[] = [];
/** Route files of the attacker app, one per attack that needs code. */
const routes: Record<string, string> = {};
/**
 * An app of its own for attacks that leave work behind (floods from timers), so their
 * aftermath in that app's sandbox does not delay the attacks that follow.
 */
const NOISY = "attacker-noisy";
const noisyRoutes: Record<string, string> = {};
let routeCount = 0;

/** Registers an attack by a route of the attacker app; `check` judges the response. */
function byRoute(
  name: string,
  code: string,
  check: (response: Response, s: TestServer) => Promise<void>,
  init?: RequestInit | (() => RequestInit),
  app = ATTACKER,
): void {
  const route = `a${routeCount++}`;
  (app === ATTACKER ? routes : noisyRoutes)[`api/${route}.ts`] = code;
  attacks.push({
    name,
    async run(s) {
      const response = await s.call(app, `/${route}`, typeof init === "function" ? init() : init);
      await check(response, s);
    },
  });
}

/** Expects `status` and a JSON error matching `pattern`, no longer than `maxChars`. */
function fails(status: number, pattern: RegExp, maxChars = 20_000) {
  return async (response: Response) => {
    const text = await response.text();
    assert.equal(response.status, status, text.slice(0, 300));
    assert.ok(text.length <= maxChars, `an error of ${text.length} characters`);
    assert.match(JSON.parse(text).error, pattern);
  };
}

/** Expects `status`, whatever the body. */
function answers(status: number) {
  return async (response: Response) => {
    await response.body?.cancel();
    assert.equal(response.status, status);
  };
}

/** Expects 200 and a JSON body `{ error }` (what a handler caught) matching `pattern`. */
function caught(pattern: RegExp) {
  return async (response: Response) => {
    const body = await json<{ error?: string }>(response, 200);
    assert.match(String(body.error), pattern);
  };
}

/** A handler that runs `expr` and answers what it threw (or `{ error: null }`). */
const tryIt = (expr: string) =>
  `export default async () => { try { await (async () => { ${expr} })(); return { body: { error: null } }; } ` +
  `catch (e) { return { body: { error: String(e?.message ?? e) } }; } };`;

// ---- Calls after the request ended reject at once. ----
byRoute(
  "KV and fetch calls from a timer after the response",
  `export default (ctx) => { setTimeout(async () => {
    const started = Date.now();
    try { await ctx.kv.set("late", "x"); } catch (e) { console.log("late kv: " + e.message + " after " + (Date.now() - started) + " ms"); }
    try { await fetch("https://example.com"); } catch (e) { console.log("late fetch: " + e.message); }
  }, 20); return { body: "done" }; };`,
  async (response, s) => {
    assert.equal(await response.text(), "done");
    let messages: string[] = [];
    for (let i = 0; i < 40 && messages.length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      messages = (await s.logs(ATTACKER, "q=late ")).map((e) => e.message);
    }
    assert.ok(messages.some((m) => /late kv: this request has already ended after \d+ ms/.test(m)));
    assert.ok(messages.some((m) => /late fetch: this request has already ended/.test(m)));
  },
);

// ---- Log text the host rewrites: bounded, linear, no prototype keys. ----
byRoute(
  "a 1 MB error message",
  `export default () => { throw new Error("x".repeat(1_000_000)); };`,
  fails(500, /threw Error: x+… \(\d+ characters, cut\)/),
);
byRoute(
  "an error message of 100,000 `bundle:` markers",
  `export default () => { throw new Error("bundle:".repeat(100_000)); };`,
  fails(500, /threw Error: (bundle:)+/),
);
byRoute(
  "a console line shaped like a frame with 100,000 colons",
  `export default () => { console.log("    at bundle:" + "a:".repeat(100_000)); return {}; };`,
  answers(200),
);
byRoute(
  "a client's 1 MB body reflected into an error",
  `export default (ctx) => { throw new Error("bad payload: " + ctx.req.body); };`,
  fails(500, /bad payload: (bundle:a:1:)+.*cut/),
  () => ({
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: "bundle:a:1:".repeat(90_000),
  }),
);
for (const key of ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"]) {
  byRoute(
    `a log line naming ${key} as a bundle file`,
    `export default () => { console.log("    at f (bundle:${key}:1:1)"); return { body: "fine" }; };`,
    async (response) => assert.equal(await response.text(), "fine"),
  );
  byRoute(
    `a thrown stack naming ${key} as a bundle file`,
    `export default () => { const e = new Error("forged"); e.stack = "Error: forged\\n    at bundle:${key}:1:1"; throw e; };`,
    fails(500, /threw Error: forged/),
  );
}
byRoute(
  "1,000 console lines of frames, then more",
  `export default () => { for (let i = 0; i < 5000; i++) console.log("    at x (bundle:api/z.ts:" + i + ":1) " + "p".repeat(200)); return {}; };`,
  answers(200),
);
byRoute(
  "an error whose message getter throws",
  `export default () => { const e = new Error("x"); Object.defineProperty(e, "message", { get() { throw new Error("boom"); } }); throw e; };`,
  answers(500),
);
byRoute(
  "throwing a value whose toString throws",
  `export default () => { throw { toString() { throw new Error("no"); } }; };`,
  fails(500, /cannot be shown|threw/),
);

// ---- Lines outside requests: a per-app budget. ----
byRoute(
  "a timer flood of log lines after the response",
  `export default () => { let n = 0; const t = setInterval(() => { for (let i = 0; i < 1000; i++) console.log("flood " + n++); if (n >= 20_000) clearInterval(t); }, 1); return { body: "sent" }; };`,
  async (response, s) => {
    assert.equal(await response.text(), "sent");
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const entries = await s.logs(NOISY, "limit=1000&q=flood");
    assert.ok(entries.length <= 110, `${entries.length} flood lines were kept`);
  },
  undefined,
  NOISY,
);
byRoute(
  "a 10 MB log line from a timer",
  `export default () => { setTimeout(() => console.log("big:" + "y".repeat(10_000_000)), 10); return {}; };`,
  async (response, s) => {
    assert.equal(response.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 800));
    const entries = await s.logs(NOISY, "q=big:");
    for (const entry of entries) assert.ok(entry.message.length < 70_000);
  },
  undefined,
  NOISY,
);
byRoute(
  "ten thousand unhandled rejections",
  `export default () => { for (let i = 0; i < 10_000; i++) Promise.reject(new Error("rejected " + i)); return {}; };`,
  answers(200),
  undefined,
  NOISY,
);

// ---- The sandbox: what code cannot reach or do. ----
for (
  const [what, expr, pattern] of [
    ["a Worker", `new Worker("data:text/javascript,1")`, /Worker is not defined/],
    ["a BroadcastChannel", `new BroadcastChannel("all")`, /BroadcastChannel is not defined/],
    ["the Cache API", `await caches.open("x")`, /caches is not defined/],
    ["Node's process", `process.exit(1)`, /process is not defined/],
    ["Deno's internals", `Deno[Deno.internal].core.ops.op_exit()`, /Cannot read properties/],
    ["eval", `eval("1")`, /Code generation from strings disallowed/],
    ["the Function constructor", `(() => {}).constructor("return 1")()`, /disallowed/],
    ["an async Function constructor", `(async () => {}).constructor("return 1")()`, /disallowed/],
    ["setTimeout with a string", `setTimeout("1", 0)`, /must be of type function/],
    ["Deno.exit", `Deno.exit(0)`, /Deno.exit is not available/],
    ["close()", `close()`, /close is not defined/],
    ["postMessage", `postMessage({ t: "result" })`, /postMessage is not defined/],
    ["prompt() on the process's stdin", `prompt("token?")`, /prompt is not defined/],
    ["alert() on the process's stdout", `alert("hi")`, /alert is not defined/],
    ["stdout", `Deno.stdout.write(new Uint8Array(8))`, /Deno.stdout is not available/],
    ["stdin", `Deno.stdin.read(new Uint8Array(8))`, /Deno.stdin is not available/],
    ["a file", `Deno.readTextFileSync("/etc/passwd")`, /Requires read access/],
    ["a subprocess", `new Deno.Command("id").outputSync()`, /Requires run access|Failed/],
    // Deno.env is a read-only view of the app's own variables (the host's are never in it).
    ["the environment", `Deno.env.set("API_KEY", "x")`, /read-only view of the app's variables/],
    ["a raw socket", `await Deno.connect({ port: 6379 })`, /Requires net access/],
    ["a listener", `Deno.listen({ port: 0 })`, /Requires net access/],
    ["FFI", `Deno.dlopen("libc.so.6", {})`, /Requires ffi access/],
    ["system info", `Deno.osRelease()`, /Requires sys access/],
    ["localStorage", `localStorage.setItem("a", "b")`, /localStorage is not defined/],
    ["a WebSocket to loopback", `new WebSocket("ws://127.0.0.1:1")`, /Requires net access/],
  ] as const
) {
  byRoute(`reaching ${what}`, tryIt(expr), caught(pattern));
}
byRoute(
  "an infinite loop",
  `export default () => { while (true) {} };`,
  fails(504, /ran past its time limit of 3000 ms/),
);
byRoute(
  "Atomics.wait forever",
  `export default () => { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); };`,
  fails(504, /time limit/),
);
byRoute(
  "a heap bomb",
  `export default () => { const a = []; while (true) a.push(new Array(1e5).fill(a.length)); };`,
  fails(502, /ran out of memory/),
);
byRoute(
  "an ArrayBuffer bomb",
  `export default async () => { const h = []; while (true) { h.push(new Uint8Array(32 << 20).fill(1)); await new Promise((r) => setTimeout(r, 1)); } };`,
  fails(502, /ran out of memory: its sandbox used \d+ MB, over the limit of 192 MB/),
);
byRoute(
  "a Wasm memory bomb",
  // Each step touches only the 16 MB it grew (filling the whole buffer each time took past the
  // 3 s limit on a loaded machine), so the sandbox passes its memory cap within a second.
  `export default async () => { const m = new WebAssembly.Memory({ initial: 1, maximum: 65536 }); const h = []; while (true) { const grown = m.buffer.byteLength; m.grow(256); new Uint8Array(m.buffer, grown).fill(1); h.push(m.buffer.byteLength); await new Promise((r) => setTimeout(r, 1)); } };`,
  fails(502, /ran out of memory/),
);
byRoute(
  "a forged frame from a tampered JSON.stringify",
  `export default () => { JSON.stringify = () => "{"; return { body: "x" }; };`,
  async (response) => {
    await response.body?.cancel();
    assert.ok([500, 502, 503].includes(response.status));
  },
);
byRoute(
  "a result whose body getter throws",
  `export default () => ({ get body() { throw new Error("getter"); } });`,
  fails(500, /getter/),
);

// ---- Responses: headers, statuses, origins. ----
byRoute(
  "20,000 response headers",
  `export default () => { const h = {}; for (let i = 0; i < 20000; i++) h["x-" + i] = "v"; return { headers: h }; };`,
  fails(500, /20000 headers, over the limit of 100/),
);
byRoute(
  "a 100 KB response header",
  `export default () => ({ headers: { "x-big": "v".repeat(100_000) } });`,
  fails(500, /over the limit of 32768/),
);
for (const status of ["99", "600", "'200'", "NaN", "200.5", "-1"]) {
  byRoute(
    `status ${status}`,
    `export default () => ({ status: ${status} });`,
    fails(500, /status must be an integer from 200 to 599/),
  );
}
// A Kelvin sign lower-cases to "k": an invalid name must not become set-cookie on the way.
for (const header of ["bad name", "x\\ny", "x:y", "Set-Coo\u212Aie"]) {
  byRoute(
    `a response header named ${JSON.stringify(header)}`,
    `export default () => ({ headers: { ${JSON.stringify(header)}: "v" } });`,
    fails(500, /invalid name or value/),
  );
}
byRoute(
  "a response header value with a newline",
  `export default () => ({ headers: { "x-a": "v\\r\\nset-cookie: a=b" } });`,
  fails(500, /invalid name or value/),
);
byRoute(
  "a page on the shared origin that sets a cookie for every app",
  `export default () => ({ headers: { "content-type": "text/html", "set-cookie": "s=1; Domain=localhost; Path=/" }, body: "<script>document.cookie</script>" });`,
  async (response) => {
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-security-policy"), "sandbox");
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    assert.equal(response.headers.get("set-cookie"), null);
    await response.body?.cancel();
  },
);
for (const [domain, kept] of [[".localhost", false], [`${ATTACKER}.localhost`, true]] as const) {
  const route = `cookie${kept ? "-own" : "-all"}`;
  routes[`api/${route}.ts`] =
    `export default () => ({ headers: { "set-cookie": "c=1; Path=/; Domain=${domain}" } });`;
  attacks.push({
    name: `a cookie for Domain=${domain} from the app's own host is ${kept ? "kept" : "dropped"}`,
    async run(s) {
      const response = await rawHttp(
        s.url,
        `GET /functions/${route} HTTP/1.1\r\nHost: ${ATTACKER}.localhost\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(response.status, 200);
      assert.equal("set-cookie" in response.headers, kept);
    },
  });
}
byRoute(
  "a body on a 204",
  `export default () => ({ status: 204, body: "x" });`,
  fails(500, /cannot have a body/),
);
byRoute(
  "a 7 MB response",
  `export default () => ({ body: "z".repeat(7 * 1024 * 1024) });`,
  fails(500, /over the limit of 6291456 bytes/),
);
byRoute(
  "a cyclic body",
  `export default () => { const a = {}; a.a = a; return { body: a }; };`,
  fails(500, /cannot be serialised as JSON/),
);

// ---- KV calls the host refuses. ----
for (
  const [what, expr, pattern] of [
    ["a lone-surrogate key", `await ctx.kv.set("a\\ud800", "v")`, /lone surrogate/],
    ["a lone-surrogate value", `await ctx.kv.set("a", "\\udfff")`, /lone surrogate/],
    ["a 513-byte key", `await ctx.kv.get("k".repeat(513))`, /513 bytes; the limit is 512/],
    ["a 1 MB + 1 value", `await ctx.kv.set("k", "v".repeat(1048577))`, /the limit is 1048576/],
    ["an empty key", `await ctx.kv.del("")`, /must not be empty/],
    ["a numeric key", `await ctx.kv.get(1)`, /key must be a string/],
    ["a negative ttl", `await ctx.kv.set("k", "v", -5)`, /positive whole number/],
    ["a huge ttl", `await ctx.kv.set("k", "v", 1e300)`, /positive whole number/],
    ["a list limit of 0", `await ctx.kv.list({ limit: 0 })`, /from 1 to 1000/],
    ["a list limit of 1,001", `await ctx.kv.list({ limit: 1001 })`, /from 1 to 1000/],
    ["a list cursor object", `await ctx.kv.list({ cursor: {} })`, /cursor must be/],
    ["a list of a non-object", `await ctx.kv.list(5)`, /options must be an object/],
    [
      "an unknown KV method",
      `await ctx.kv.get.call(null, "x"); await ctx.kv["flushall"]()`,
      /not a function/,
    ],
  ] as const
) {
  byRoute(
    `KV: ${what}`,
    `export default async (ctx) => { try { ${expr}; return { body: { error: null } }; } catch (e) { return { body: { error: e.message } }; } };`,
    caught(pattern),
  );
}

// ---- Outbound fetch targets the platform refuses. ----
for (
  const target of [
    "http://127.0.0.1:6379/",
    "http://localhost/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::127.0.0.1]/",
    "http://[::ffff:0:127.0.0.1]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[64:ff9b:1::a00:1]/",
    "http://[2002:a00:1::1]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    "http://[fec0::1]/",
    "http://[fd00::1]/",
    "http://[fe80::1]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://0.0.0.0/",
    "http://2130706433/",
    "http://0x7f.1/",
    "http://017700000001/",
    "http://127.1/",
    "http://a.localhost/",
    "file:///etc/passwd",
    "ftp://example.com/",
    "data:text/plain,x",
  ]
) {
  byRoute(
    `fetch to ${target}`,
    tryIt(`await fetch(${JSON.stringify(target)})`),
    caught(/refused|not reachable|only http: and https:|invalid URL/),
  );
}
for (
  const [what, headers] of [
    ["300 headers", "Array.from({ length: 300 }, (_, i) => ['x-h' + i, 'v'])"],
    ["8 headers of 64 KB", "Array.from({ length: 8 }, (_, i) => ['x-h' + i, 'v'.repeat(65536)])"],
  ]
) {
  byRoute(
    `a fetch with ${what}`,
    tryIt(`await fetch("http://example.com/", { headers: ${headers} })`),
    caught(/fetch: the request('s headers are \d+ bytes| has 300 headers), over the limit of/),
  );
}

// ---- Deploys the compiler must survive. ----
function deployAttack(
  name: string,
  files: Record<string, string>,
  check: (response: Response) => Promise<void>,
) {
  attacks.push({
    name,
    run: async (s) => await check(await s.deploy(`${ATTACKER}-deploy`, files)),
  });
}
for (const [open, close] of [["[", "]"], ["(", ")"], ["{", "}"]] as const) {
  deployAttack(
    `a deploy nesting ${open} 100,000 deep`,
    { "api/x.ts": `export default () => ${open.repeat(100_000)}1${close.repeat(100_000)};` },
    fails(400, /nest deeper than 500 levels/),
  );
}
deployAttack(
  "a deploy nesting 2,000 ternaries",
  { "api/x.ts": `export default () => ${"1 ? (".repeat(2000)}1${") : 0".repeat(2000)};` },
  fails(400, /nest deeper than 500 levels/),
);
deployAttack(
  "brackets inside strings and comments do not count as nesting",
  { "api/x.ts": `// ${"[".repeat(1000)}\nexport default () => ({ body: "${"(".repeat(1000)}" });` },
  async (response) => assert.equal(response.status, 201, await response.text()),
);
deployAttack(
  "a shared 1 MB module imported by 100 routes compiles once",
  {
    "lib/big.ts": `export const big = ${JSON.stringify("b".repeat(1_000_000))};`,
    ...Object.fromEntries(
      Array.from({ length: 100 }, (_, i) => [
        `api/r${i}.ts`,
        `import { big } from "../lib/big.ts"; export default () => ({ body: big.length + ${i} });`,
      ]),
    ),
  },
  async (response) => assert.equal(response.status, 201, (await response.text()).slice(0, 300)),
);
for (
  const [what, expr] of [
    ["a computed import()", `await import("./" + ["x"][0])`],
    ["a computed import() of a package", `await import(["npm:", "left-pad"].join(""))`],
    ["a template-literal import of node:", "await import(`node:${'fs'}`)"],
  ]
) {
  deployAttack(
    `a deploy with ${what}`,
    { "api/x.ts": `export default async () => { ${expr}; return {}; };` },
    fails(400, /import\(…\) must name a module by (a|one) string literal/),
  );
}
deployAttack(
  "a module that fails to load with a 64 KB stack line shaped like a frame",
  {
    "api/x.ts":
      `const e = new Error("crafted"); e.stack = "Error: crafted\\n    at " + "a".repeat(65_000);
      throw e; export default () => ({});`,
  },
  fails(400, /crafted/),
);
deployAttack(
  "a module that evals at top level",
  { "api/x.ts": `eval("1"); export default () => ({});` },
  fails(400, /Code generation from strings disallowed/),
);
deployAttack(
  "a module that starts a Worker at top level",
  { "api/x.ts": `new Worker("data:text/javascript,while(true){}"); export default () => ({});` },
  fails(400, /Worker is not defined/),
);
deployAttack(
  "a default export that is not a function",
  { "api/x.ts": `export default 42;` },
  fails(400, /default export must be a function/),
);

// ---- Requests to the attacker's URLs from an anonymous client. ----
for (
  const [what, path, status] of [
    ["a percent-encoded app id", `/apps/%61ttacker/functions/echo`, 200],
    ["a percent-encoded environment", `/apps/${ATTACKER}/env/%70roduction/functions/echo`, 200],
    ["a double-encoded parameter", `/apps/${ATTACKER}/functions/p/%2541`, 200],
    ["an encoded slash in a parameter", `/apps/${ATTACKER}/functions/p/a%2Fb`, 200],
    ["a malformed escape", `/apps/${ATTACKER}/functions/p/%E0%A4%A`, 404],
    ["a path of 10,000 segments", `/apps/${ATTACKER}/functions/${"s/".repeat(10_000)}`, 404],
  ] as const
) {
  attacks.push({
    name: `a request with ${what}`,
    async run(s) {
      const response = await fetch(`${s.url}${path}`);
      const text = await response.text();
      assert.equal(response.status, status, text.slice(0, 200));
      if (what === "a double-encoded parameter") assert.equal(text, "%41");
      if (what === "an encoded slash in a parameter") assert.equal(text, "a/b");
      if (what.startsWith("a percent-encoded")) assert.equal(text, "echo");
    },
  });
}
// The HTTP edge, from a raw socket: broken framing, stalled and abandoned uploads, HEAD.
/** Writes `parts` to a new connection, `pauseMs` apart; answers what the server sent, if asked. */
async function upload(s: TestServer, parts: string[], pauseMs: number, read = true) {
  const { hostname, port } = new URL(s.url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    for (const [i, part] of parts.entries()) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      await conn.write(new TextEncoder().encode(part));
    }
    return read ? await readHttpResponse(conn) : "";
  } finally {
    conn.close();
  }
}
const POST_HEAD = `POST /apps/${ATTACKER}/functions/echo HTTP/1.1\r\nHost: x\r\n` +
  "content-type: text/plain\r\n";
attacks.push({
  name: "a chunked body whose framing breaks after the request was dispatched",
  async run(s) {
    const answer = await upload(s, [
      `${POST_HEAD}transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n`,
      "zz\r\nnot hex\r\n0\r\n\r\n",
    ], 100);
    assert.match(answer, /^HTTP\/1\.1 400/);
  },
});
attacks.push({
  name: "a body that stops arriving",
  async run(s) {
    const answer = await upload(s, [`${POST_HEAD}content-length: 100\r\n\r\nonly part`], 0);
    assert.match(answer, /^HTTP\/1\.1 408/);
  },
});
attacks.push({
  name: "a client that goes away mid-upload",
  async run(s) {
    await upload(s, [`${POST_HEAD}content-length: 100000\r\n\r\n${"x".repeat(1000)}`], 0, false);
    await waitFor("the abandoned upload's log entry", async () => {
      const entries = await s.logs(ATTACKER, "limit=20");
      return entries.some((e) => e.type === "request" && e.status === 499);
    });
  },
});
attacks.push({
  name: "a HEAD request",
  async run(s) {
    const response = await rawHttp(
      s.url,
      `HEAD /apps/${ATTACKER}/functions/echo HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n`,
    );
    assert.equal(response.status, 200);
    assert.equal(response.body, "");
  },
});
// Inputs whose parsing once ran on the host's main thread (a 120 KB form of repeated keys froze
// every app for 6.9 s): the sandbox parses them now, linearly and under caps.
for (
  const [what, init, status] of [
    ["a 1 MB form of repeated keys", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "a=&".repeat(340_000),
    }, 400],
    ["a 1 MB JSON array of 300,000 items", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: `[${"1,".repeat(300_000)}1]`,
    }, 200],
    ["a 1 MB JSON body nested 100,000 deep", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "[".repeat(100_000) + "]".repeat(100_000),
    }, 400],
  ] as const
) {
  attacks.push({
    name: `a request with ${what}`,
    async run(s) {
      const response = await fetch(`${s.url}/apps/${ATTACKER}/functions/echo`, init);
      await response.body?.cancel();
      assert.equal(response.status, status);
    },
  });
}
attacks.push({
  name: "a request with a 30 KB query string of repeated keys",
  async run(s) {
    const response = await fetch(
      `${s.url}/apps/${ATTACKER}/functions/echo?${"a=&".repeat(10_000)}`,
    );
    const body = await json<{ error: string }>(response, 400);
    assert.match(body.error, /more than 1000 parameters/);
  },
});
// The host's socket, reopened: its path is hidden from handlers (Deno.args is refused), so the
// attacker is handed it, read from a sandbox's command line; the permission was revoked after
// connecting, so it is refused all the same.
attacks.push({
  name: "reaching the host's socket, reopened with its real path",
  async run(s) {
    const pid = s.platform.sandboxes.pids()[0]!;
    const args = (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0").filter(Boolean);
    const socket = args.at(-1)!;
    assert.match(socket, /sandbox\.sock$/);
    const response = await s.call(ATTACKER, `/reopen?p=${encodeURIComponent(socket)}`);
    const body = await json<{ error?: string }>(response, 200);
    assert.match(String(body.error), /Requires (net|read|write) access/);
  },
});
routes["api/reopen.ts"] = `export default async (ctx) => {
  try {
    await Deno.connect({ transport: "unix", path: ctx.req.query.p });
    return { body: { error: null } };
  } catch (e) {
    return { body: { error: String(e?.message ?? e) } };
  }
};`;
routes["api/p/[id].ts"] = `export default (ctx) => ({ body: ctx.req.params.id });`;
routes["api/echo.ts"] = `export default () => ({ body: "echo" });`;

Deno.test({
  name: `${attacks.length} hostile-tenant attacks: each answered clearly, others unaffected`,
  async fn(t) {
    assert.ok(attacks.length >= 100, `only ${attacks.length} attacks`);
    const s = await startServer({
      env: {
        FUNCTION_TIMEOUT_MS: "3000",
        FUNCTION_MEMORY_MB: "64",
        SANDBOX_MEMORY_MB: "192",
        REQUEST_BODY_TIMEOUT_MS: "500",
      },
    });
    try {
      const victim = await s.deployOk(VICTIM, {
        "api/v.ts": `export default async (ctx) => ({ body: { kv: await ctx.kv.get("k") } })`,
        "api/set.ts": `export default async (ctx) => { await ctx.kv.set("k", "kept"); return {}; }`,
      });
      await (await s.call(VICTIM, "/set", { method: "POST" })).body?.cancel();
      await s.deployOk(CALM, { "api/ok.ts": "export default () => ({ body: 'ok' })" });
      await s.deployOk(ATTACKER, routes);
      await s.deployOk(NOISY, noisyRoutes);
      for (const attack of attacks) {
        await t.step(attack.name, async () => {
          await probing(s, `/apps/${CALM}/functions/ok`, () => attack.run(s));
        });
      }
      assert.deepEqual(await json(await fetch(`${s.url}/healthz`), 200), { ok: true });
      assert.deepEqual(await json(await s.call(VICTIM, "/v"), 200), { kv: "kept" });
      const listing = await json<{ deployments: Array<{ id: string }> }>(
        await s.api(`/apps/${VICTIM}/deployments`),
        200,
      );
      assert.deepEqual(listing.deployments.map((d) => d.id), [victim.id]);
      const keys = await s.platform.kv.list(VICTIM, { prefix: "", cursor: null, limit: 10 });
      assert.deepEqual(keys.keys, ["k"]);
    } finally {
      await s.close();
    }
  },
});

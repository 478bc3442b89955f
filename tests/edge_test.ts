/**
 * The HTTP edge of function requests, from the client's side over raw sockets: stalled and
 * aborted uploads, malformed framing, HEAD, bodies the sandbox cannot parse, and platform keys
 * that must never reach tenant code.
 */
import assert from "node:assert/strict";
import {
  API_KEY,
  appId,
  json,
  rawHttp,
  readHttpResponse,
  startServer,
  suite,
  waitFor,
} from "./helpers.ts";
import type { LogEntry } from "../runtime/logs/types.ts";

const edgeTest = suite(() =>
  startServer({ env: { REQUEST_BODY_TIMEOUT_MS: "300", FUNCTION_TIMEOUT_MS: "1500" } })
);

const ECHO = {
  "api/echo.ts": `export default (ctx) => {
    console.log("method", ctx.req.method);
    return { body: { method: ctx.req.method, headers: ctx.req.headers, body: ctx.req.body ?? null } };
  };`,
};

/** The request entry of the app's log for `requestId`, once it is written. */
async function requestEntry(
  s: Awaited<ReturnType<typeof startServer>>,
  app: string,
  match: (entry: LogEntry) => boolean,
): Promise<LogEntry> {
  let found: LogEntry | undefined;
  await waitFor("the request log entry", async () => {
    found = (await s.logs(app)).find((entry) => entry.type === "request" && match(entry));
    return found !== undefined;
  });
  return found!;
}

/** Opens a socket to the server and writes `head`; the caller decides what follows. */
async function openUpload(url: string, head: string): Promise<Deno.TcpConn> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  await conn.write(new TextEncoder().encode(head));
  return conn;
}

edgeTest("a body that stops arriving is answered 408 and logged as 408", async (s) => {
  const app = appId("edge");
  await s.deployOk(app, ECHO);
  const conn = await openUpload(
    s.url,
    `POST /apps/${app}/functions/echo HTTP/1.1\r\nHost: x\r\ncontent-type: text/plain\r\n` +
      "content-length: 100\r\n\r\nonly part",
  );
  try {
    const answer = await readHttpResponse(conn);
    assert.match(answer, /^HTTP\/1\.1 408/);
    assert.match(answer, /no byte for 0\.3 s/);
  } finally {
    conn.close();
  }
  const entry = await requestEntry(s, app, (e) => e.status === 408);
  assert.equal(entry.level, "warn");
});

edgeTest(
  "a body trickled too slowly to finish within the time limit is answered 408",
  async (s) => {
    const app = appId("edge");
    await s.deployOk(app, ECHO);
    const conn = await openUpload(
      s.url,
      `POST /apps/${app}/functions/echo HTTP/1.1\r\nHost: x\r\ncontent-type: text/plain\r\n` +
        "content-length: 100\r\n\r\n",
    );
    try {
      // A byte every 100 ms never lets the 300 ms idle timer fire; the whole body would take 10 s.
      let answered = false;
      const dripping = (async () => {
        for (let i = 0; i < 40 && !answered; i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          if (await conn.write(new Uint8Array([120])).catch(() => null) === null) return;
        }
      })();
      const answer = await readHttpResponse(conn);
      answered = true;
      assert.match(answer, /^HTTP\/1\.1 408/);
      assert.match(answer, /did not arrive within 1\.5 s/);
      await dripping;
    } finally {
      conn.close();
    }
  },
);

edgeTest(
  "a query string over 32 KB is answered 414 naming the limit; one of 32 KB is served",
  async (s) => {
    const app = appId("edge");
    await s.deployOk(app, ECHO);
    const longest = `q=${"a".repeat(32 * 1024 - 2)}`;
    assert.equal((await s.call(app, `/echo?${longest}`)).status, 200);
    const refused = await json(await s.call(app, `/echo?${longest}a`), 414);
    assert.equal(
      refused.error,
      "the query string is 32769 bytes, over the limit of 32768 bytes",
    );
  },
);

edgeTest(
  "an API request with a query string over 32 KB is answered 414 before it is parsed",
  async (s) => {
    const refused = await json(await s.api(`/apps?${"a&".repeat(16_400)}`), 414);
    assert.equal(
      refused.error,
      "the query string is 32800 bytes, over the API's limit of 32768 bytes",
    );
    await json(await s.api(`/apps?limit=1&${"a&".repeat(16_000)}`), 200);
  },
);

edgeTest("a client that goes away mid-upload is logged 499, not as the app's error", async (s) => {
  const app = appId("edge");
  await s.deployOk(app, ECHO);
  const conn = await openUpload(
    s.url,
    `POST /apps/${app}/functions/echo HTTP/1.1\r\nHost: x\r\ncontent-type: text/plain\r\n` +
      "content-length: 100000\r\n\r\n" + "x".repeat(1000),
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  conn.close();
  const entry = await requestEntry(s, app, (e) => e.status === 499);
  assert.equal(entry.level, "warn");
});

edgeTest("malformed chunked framing is a 400 to the client and in the request log", async (s) => {
  const app = appId("edge");
  await s.deployOk(app, ECHO);
  // Framing broken in the first packet never reaches the app: Deno's HTTP layer drops it. Broken
  // after the request was dispatched, the body read fails.
  const conn = await openUpload(
    s.url,
    `POST /apps/${app}/functions/echo HTTP/1.1\r\nHost: x\r\ncontent-type: text/plain\r\n` +
      "transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n",
  );
  try {
    await new Promise((resolve) => setTimeout(resolve, 100));
    await conn.write(new TextEncoder().encode("zz\r\nnot hex\r\n0\r\n\r\n"));
    assert.match(await readHttpResponse(conn), /^HTTP\/1\.1 400/);
  } finally {
    conn.close();
  }
  const entry = await requestEntry(s, app, (e) => e.method === "POST");
  assert.equal(entry.status, 400);
});

edgeTest("HEAD runs the handler with HEAD and answers its headers with no body", async (s) => {
  const app = appId("edge");
  await s.deployOk(app, {
    "api/page.ts": `export default (ctx) => ({
      headers: { "content-type": "text/html", "x-seen": ctx.req.method },
      body: "<p>hello</p>",
    });`,
  });
  const response = await rawHttp(
    s.url,
    `HEAD /apps/${app}/functions/page HTTP/1.1\r\nHost: x\r\nconnection: close\r\n\r\n`,
  );
  assert.equal(response.status, 200);
  assert.equal(response.headers["x-seen"], "HEAD");
  assert.equal(response.headers["content-type"], "text/html");
  assert.equal(response.headers["content-length"], String("<p>hello</p>".length));
  assert.equal(response.body, "");
});

edgeTest("a body the sandbox cannot parse is a 400 warning, not the app's 5xx", async (s) => {
  const app = appId("edge");
  await s.deployOk(app, ECHO);
  for (
    const [type, body, message] of [
      ["application/json", '{"a": ', /not valid JSON/],
      ["text/plain", new Uint8Array([0xff, 0xfe]), /not valid UTF-8/],
      ["application/json", "[".repeat(70) + "]".repeat(70), /nested deeper than 64/],
      ["application/x-www-form-urlencoded", "a=&".repeat(1001), /more than 1000 parameters/],
    ] as const
  ) {
    const answer = await json<{ error: string }>(
      await s.call(app, "/echo", { method: "POST", headers: { "content-type": type }, body }),
      400,
    );
    assert.match(answer.error, message);
  }
  const tooMany = await json<{ error: string }>(
    await s.call(app, `/echo?${"a=1&".repeat(1001)}`),
    400,
  );
  assert.match(tooMany.error, /query string has more than 1000 parameters/);
  const requests = (await s.logs(app)).filter((e) => e.type === "request");
  assert.equal(requests.length, 5);
  for (const entry of requests) {
    assert.equal(entry.status, 400);
    assert.equal(entry.level, "warn");
  }
  // The handler never ran for any of them.
  assert.ok(!(await s.logs(app)).some((e) => e.message.startsWith("method")));
});

edgeTest("repeated form keys and queries still arrive as arrays, in order", async (s) => {
  const app = appId("edge");
  await s.deployOk(app, {
    "api/form.ts": `export default (ctx) => ({ body: { q: ctx.req.query, b: ctx.req.body } });`,
  });
  const answer = await json<{ q: unknown; b: unknown }>(
    await s.call(app, "/form?x=1&x=2&__proto__=p&constructor=c", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "a=1&b=2&a=3",
    }),
    200,
  );
  assert.deepEqual(answer.q, { x: ["1", "2"], ["__proto__"]: "p", constructor: "c" });
  assert.deepEqual(answer.b, { a: ["1", "3"], b: "2" });
});

edgeTest("no platform key reaches a function, whatever header carries it", async (s) => {
  const app = appId("edge");
  await s.deployOk(app, ECHO);
  const created = await json<{ key: string }>(
    await s.api(`/apps/${app}/keys`, { method: "POST" }),
    201,
  );
  const forged = `fnk_key_${"0".repeat(24)}_${"a".repeat(43)}`;
  const answer = await json<{ headers: Record<string, string> }>(
    await s.call(app, "/echo", {
      headers: {
        authorization: `Bearer ${API_KEY}`,
        cookie: `session=1; k=${created.key}`,
        "x-api-key": forged,
        "x-other": "kept",
      },
    }),
    200,
  );
  const seen = JSON.stringify(answer.headers);
  assert.ok(!seen.includes(API_KEY), seen);
  assert.ok(!seen.includes(created.key), seen);
  assert.ok(!seen.includes(forged), seen);
  assert.equal(answer.headers["x-other"], "kept");
  assert.match(answer.headers.cookie!, /^session=1; k=\[platform key removed\]$/);
});

edgeTest(
  "lines a timer logs after its request ended are held to the sandbox's budget",
  async (s) => {
    const app = appId("edge");
    await s.deployOk(app, {
      "api/late.ts": `export default () => {
      const line = "x".repeat(200_000);
      for (let i = 0; i < 50; i++) setTimeout(() => console.log(line), 20);
      return { body: "ok" };
    };`,
    });
    assert.equal(await (await s.call(app, "/late")).text(), "ok");
    await new Promise((resolve) => setTimeout(resolve, 400));
    const entries = await s.logs(app, "limit=1000");
    // The host cuts each such line to 16 KB and keeps up to 64 KB of them a window: four of
    // these lines, had they all crossed. The sandbox's own budget for lines outside requests
    // (256 KB a window) lets one 200 KB line through and drops the other 49 before the wire.
    const crossed = entries.filter((e) => e.message.endsWith("(200000 characters, cut)"));
    assert.equal(crossed.length, 1, `${crossed.length} lines of 200 KB crossed the wire`);
  },
);

Deno.test({
  name: "slow uploads hold at most the app's request-body budget; other apps upload meanwhile",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const s = await startServer({ env: { REQUEST_BODY_BYTES_PER_APP: String(1024 * 1024) } });
    const stalled: Deno.TcpConn[] = [];
    try {
      const app = appId("hoard");
      const other = appId("other");
      await s.deployOk(app, ECHO);
      await s.deployOk(other, ECHO);
      const head = (target: string) =>
        `POST /apps/${target}/functions/echo HTTP/1.1\r\nHost: x\r\ncontent-type: text/plain\r\n` +
        "content-length: 900000\r\n\r\n";
      // Three uploads of 400 KB each that then stall: the third passes the app's 1 MB.
      for (let i = 0; i < 3; i++) {
        const conn = await openUpload(s.url, head(app) + "x".repeat(400_000));
        stalled.push(conn);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const refused = await readHttpResponse(stalled[2]!);
      assert.match(refused, /^HTTP\/1\.1 503/);
      assert.match(refused, /bytes of request bodies; the budget is 1048576 per app/);
      // Another app's upload is not held against this app's budget.
      const answer = await json<{ body: string }>(
        await s.call(other, "/echo", {
          method: "POST",
          headers: { "content-type": "text/plain" },
          body: "y".repeat(800_000),
        }),
        200,
      );
      assert.equal(answer.body.length, 800_000);
      // Once the stalled uploads go away, the app's budget is free again.
      for (const conn of stalled.splice(0)) conn.close();
      await waitFor("the budget to be given back", async () => {
        const response = await s.call(app, "/echo", {
          method: "POST",
          headers: { "content-type": "text/plain" },
          body: "z".repeat(800_000),
        });
        await response.body?.cancel();
        return response.status === 200;
      }, 5000);
    } finally {
      for (const conn of stalled) conn.close();
      await s.close();
    }
  },
});

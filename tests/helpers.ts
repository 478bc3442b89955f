/** Shared test helpers: start a real server on a free port, deploy, call. */
import { loadConfig } from "../runtime/platform/config.ts";
import { createPlatform, type Platform, type PlatformParts } from "../runtime/platform/platform.ts";
import { createApp } from "../routes/app.ts";
import type { LogEntry, LogPage } from "../runtime/logs/types.ts";
import { sampleProcess, sampleTree } from "../runtime/sandbox/host/proc.ts";
import { Contract } from "./contract.ts";

/** The admin API key every test server uses. */
export const API_KEY = "test-admin-key-0123456789";
/** The variables encryption key every test server uses, so instances sharing Redis agree. */
export const SECRETS_KEY = btoa("k".repeat(32));

/** A running server and shortcuts to its API. */
export interface TestServer {
  url: string;
  dataDir: string;
  platform: Platform;
  /** POSTs a deploy; `extra` adds or overrides body fields. */
  deploy(
    appId: string,
    files: Record<string, string>,
    extra?: Record<string, unknown>,
  ): Promise<Response>;
  /** Deploys and fails the test unless it answers 201; returns the JSON body. */
  deployOk(
    appId: string,
    files: Record<string, string>,
    extra?: Record<string, unknown>,
  ): Promise<DeployBody>;
  /** Calls `/apps/<appId>/functions<path>`, in process. */
  call(appId: string, path: string, init?: RequestInit): Promise<Response>;
  /** Requests any `path` of the server in process, as a client would but without a socket. */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** Calls the `/v1` API at `path` with the admin key (or `key`); a `json` value is sent as the body. */
  api(path: string, init?: ApiInit): Promise<Response>;
  /** PUTs an environment variable with the admin key; answers the raw response. */
  setVar(appId: string, environment: string, name: string, value: unknown): Promise<Response>;
  /** One page of the app's runtime logs matching the query string `params`, newest first. */
  logPage(appId: string, params?: string): Promise<LogPage>;
  /** The entries of `logPage`. */
  logs(appId: string, params?: string): Promise<LogEntry[]>;
  close(): Promise<void>;
}

/** Options of `TestServer.api`. */
export interface ApiInit {
  method?: string;
  json?: unknown;
  key?: string | undefined;
}

/** What a successful deploy answers. */
export interface DeployBody {
  id: string;
  environment: string;
  created_at: string;
  routes: Array<{ pattern: string; file: string }>;
}

/** Options of a test server: environment overrides and replacement parts. */
export interface ServerOptions {
  env?: Record<string, string>;
  /** A fixed port (default: a free one). */
  port?: number;
  dataDir?: string;
  parts?: PlatformParts;
}

/** Starts a server on 127.0.0.1 with a fresh data folder (or `dataDir`, to test restarts). */
export async function startServer(options: ServerOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "fn-test-" });
  const config = loadConfig({
    API_KEY,
    SECRETS_KEY,
    DATA_DIR: dataDir,
    PORT: "0",
    HOST: "127.0.0.1",
    ...options.env,
  });
  const platform = await createPlatform(config, options.parts);
  const app = createApp(platform);
  const server = Deno.serve(
    { port: options.port ?? 0, hostname: "127.0.0.1", onListen: () => {} },
    app.fetch,
  );
  platform.listening(server.addr.port);
  const url = `http://127.0.0.1:${server.addr.port}`;
  let contract: Promise<Contract> | undefined;
  const documented = () =>
    contract ??= Promise.resolve(app.fetch(new Request(`${url}/v1/openapi.json`)))
      .then((response) => response.json())
      .then((document) => new Contract(document));
  /**
   * A request answered in process, without a socket: for API and function calls. Every `/v1`
   * answer is checked against the OpenAPI document (tests/contract.ts) before the test sees it.
   */
  const local = async (input: string, init?: RequestInit) => {
    const request = new Request(input, init);
    const response = await app.fetch(request);
    if (!new URL(request.url).pathname.startsWith("/v1/")) return response;
    return await (await documented()).check(request.method, request.url, response);
  };
  const deploy = (appId: string, files: Record<string, string>, extra = {}) =>
    local(`${url}/v1/apps/${appId}/deploy`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ source: "test", source_files: files, ...extra }),
    });
  const logPage = async (appId: string, params = "") => {
    const response = await local(`${url}/v1/apps/${appId}/logs?${params}`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    return await json<LogPage>(response, 200);
  };
  return {
    url,
    dataDir,
    platform,
    deploy,
    async deployOk(appId, files, extra) {
      const response = await deploy(appId, files, extra);
      const body = await response.json();
      if (response.status !== 201) {
        throw new Error(`deploy answered ${response.status}: ${JSON.stringify(body)}`);
      }
      return body;
    },
    call: (appId, path, init) => local(`${url}/apps/${appId}/functions${path}`, init),
    request: (path, init) => local(`${url}${path}`, init),
    api: (path, init = {}) =>
      local(`${url}/v1${path}`, {
        method: init.method ?? (init.json === undefined ? "GET" : "POST"),
        headers: {
          authorization: `Bearer ${init.key ?? API_KEY}`,
          ...(init.json === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
      }),
    setVar(appId, environment, name, value) {
      return local(`${url}/v1/apps/${appId}/environments/${environment}/vars/${name}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
        body: JSON.stringify({ value }),
      });
    },
    logPage,
    logs: async (appId, params) => (await logPage(appId, params)).entries,
    async close() {
      await server.shutdown();
      await platform.close();
    },
  };
}

/** Registers a test against a lazily started server shared by the tests of one file and suite. */
export type SuiteTest = (name: string, fn: (server: TestServer) => Promise<void>) => void;

/**
 * A group of tests sharing one server, started by `start` on first use and left running until
 * the test process ends. Sanitizers are off because the server outlives each single test.
 */
export function suite(start: () => Promise<TestServer>): SuiteTest {
  let server: Promise<TestServer> | undefined;
  return (name, fn) =>
    Deno.test({
      name,
      sanitizeOps: false,
      sanitizeResources: false,
      async fn() {
        server ??= start();
        await fn(await server);
      },
    });
}

/** Registers a test that uses this file's shared server on the embedded stores. */
export const serverTest: SuiteTest = suite(() => startServer());

let counter = 0;
/** A fresh app id per call, so tests never share state. */
export function appId(prefix = "app"): string {
  return `${prefix}-${Date.now().toString(36)}-${counter++}`;
}

/** Reads a JSON response and asserts its status in one step. */
export async function json<T = Record<string, unknown>>(
  response: Response,
  status: number,
): Promise<T> {
  const text = await response.text();
  if (response.status !== status) {
    throw new Error(`expected status ${status}, got ${response.status}: ${text}`);
  }
  return JSON.parse(text) as T;
}

/** A response read off the wire by `rawHttp`. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Reads one HTTP response off `conn` as text: until its Content-Length of body has arrived, or the
 * server closes (or resets) the connection.
 */
export async function readHttpResponse(conn: Deno.Conn): Promise<string> {
  let text = "";
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(64 * 1024);
  while (true) {
    const n = await conn.read(buffer).catch(() => null);
    if (n === null) break;
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
    const end = text.indexOf("\r\n\r\n");
    if (end < 0) continue;
    const length = text.slice(0, end).match(/content-length:\s*(\d+)/i);
    if (length && new TextEncoder().encode(text.slice(end + 4)).length >= Number(length[1])) {
      break;
    }
  }
  return text;
}

/**
 * Sends bytes exactly as given over TCP (`fetch` would fix up Host, framing and encoding) and
 * reads the response until the server closes or the body is complete. Adds nothing.
 */
export async function rawHttp(url: string, request: string | Uint8Array): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    await conn.write(typeof request === "string" ? new TextEncoder().encode(request) : request);
    const text = await readHttpResponse(conn);
    const [head = "", ...rest] = text.split("\r\n\r\n");
    const [statusLine = "", ...headerLines] = head.split("\r\n");
    const headers: Record<string, string> = {};
    for (const line of headerLines) {
      const i = line.indexOf(":");
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    return { status: Number(statusLine.split(" ")[1]), headers, body: rest.join("\r\n\r\n") };
  } finally {
    conn.close();
  }
}

/** Processes a test file started; killed when the test process ends, whatever happened. */
const children = new Set<Deno.ChildProcess>();
globalThis.addEventListener("unload", () => {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }
});

function spawn(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Deno.ChildProcess {
  const child = new Deno.Command(command, { args, env, stdout: "null", stderr: "null" }).spawn();
  children.add(child);
  child.status.then(() => children.delete(child));
  return child;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Polls `probe` every 50 ms until it answers true; fails after `timeoutMs`. */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${what} did not come up within ${timeoutMs} ms`);
}

/**
 * Debian's redis-server on a free port, with a password, reached over TCP (REDIS_URL) or through
 * the Upstash REST server from npm in front of it.
 */
export interface RedisStack {
  /** UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN for a platform using this stack. */
  env: Record<string, string>;
  /** REDIS_URL (with the password) for a platform reaching the same redis-server over TCP. */
  tcpEnv: Record<string, string>;
  /** Both ways to this stack by backend name: `redis` (REST) and `redis-tcp`. */
  variants: Array<[name: RedisBackendName, env: Record<string, string>]>;
  /** Runs one Redis command through the REST server, as a test fixture. */
  command(...args: Array<string | number>): Promise<unknown>;
  /** Stops redis-server (the REST server stays up and fails its calls). */
  stopRedis(): Promise<void>;
  /** Starts redis-server again on the same port. */
  startRedis(): Promise<void>;
}

/** The names of the two ways to Redis the shared suites run on. */
export type RedisBackendName = "redis" | "redis-tcp";

/** Starts redis-server and the Upstash REST server; both die with the test process. */
export async function startRedisStack(): Promise<RedisStack> {
  const redisPort = freePort();
  const restPort = freePort();
  const token = `test-token-${crypto.randomUUID()}`;
  const password = `pw-${crypto.randomUUID()}`;
  const redisUrl = `redis://:${password}@127.0.0.1:${redisPort}`;
  let redis: Deno.ChildProcess | undefined;
  const startRedis = async () => {
    redis = spawn("redis-server", [
      "--port",
      String(redisPort),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--requirepass",
      password,
    ]);
    await waitFor("redis-server", async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: redisPort });
      conn.close();
      return true;
    });
  };
  await startRedis();
  spawn(Deno.execPath(), ["run", "-A", "npm:@humanwhocodes/upstash-redis-server@1.0.0"], {
    URS_TOKEN: token,
    PORT: String(restPort),
    REDIS_URL: redisUrl,
  });
  const url = `http://127.0.0.1:${restPort}`;
  const command = async (...args: Array<string | number>) => {
    const response = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify(args),
    });
    const body = await response.json();
    if (!response.ok || body.error) throw new Error(`redis ${args[0]}: ${JSON.stringify(body)}`);
    return body.result;
  };
  await waitFor("the Upstash REST server", async () => (await command("PING")) === "PONG");
  const env = { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token };
  const tcpEnv = { REDIS_URL: redisUrl };
  return {
    env,
    tcpEnv,
    variants: [["redis", env], ["redis-tcp", tcpEnv]],
    command,
    async stopRedis() {
      redis?.kill("SIGKILL");
      await redis?.status;
    },
    startRedis,
  };
}

/** A store backend that shared suites run on: its name, a suite with one shared server, its env. */
export type Backend = [
  name: string,
  test: SuiteTest,
  env: () => Promise<Record<string, string>>,
];

/**
 * The embedded stores, Redis through the Upstash REST protocol (`redis`) and Redis over TCP
 * (`redis-tcp`, one redis-server for both), each with a suite sharing one server, so a test file
 * runs the same tests on all three; `extra` is added to every server's environment.
 */
export function backends(extra: Record<string, string> = {}): [Backend, Backend, Backend] {
  const embeddedEnv = () => Promise.resolve({ ...extra });
  const redisEnv = async () => ({ ...(await sharedRedis()).env, ...extra });
  const tcpEnv = async () => ({ ...(await sharedRedis()).tcpEnv, ...extra });
  return [
    ["embedded", suite(async () => startServer({ env: await embeddedEnv() })), embeddedEnv],
    ["redis", suite(async () => startServer({ env: await redisEnv() })), redisEnv],
    ["redis-tcp", suite(async () => startServer({ env: await tcpEnv() })), tcpEnv],
  ];
}

/**
 * Registers `name` (which starts with `[redis]`) once per way to Redis: as given with the REST
 * env, and as `[redis-tcp] …` with the TCP one; `fn` gets the backend's env of this process's
 * shared Redis stack.
 */
export function redisTest(
  name: string,
  fn: (env: Record<string, string>, backend: RedisBackendName) => Promise<void>,
): void {
  for (const backend of ["redis", "redis-tcp"] as const) {
    Deno.test({
      name: name.replace(/^\[redis\]/, `[${backend}]`),
      // This process's Redis stack, started on first use, outlives the test.
      sanitizeOps: false,
      sanitizeResources: false,
      async fn() {
        const stack = await sharedRedis();
        await fn(backend === "redis" ? stack.env : stack.tcpEnv, backend);
      },
    });
  }
}

let redisStack: Promise<RedisStack> | undefined;
/** This test process's Redis stack, started on first use. */
export function sharedRedis(): Promise<RedisStack> {
  redisStack ??= startRedisStack();
  return redisStack;
}

/** Whether a process with this id is running (and not a zombie). */
export async function processRunning(pid: number): Promise<boolean> {
  const sample = await sampleProcess(pid);
  return sample !== null && sample.state !== "Z";
}

/** CPU the process tree uses over `ms` of wall time, in ms (processes alive at both readings). */
export async function treeCpuOver(ms: number): Promise<number> {
  const before = await sampleTree(Deno.pid);
  await new Promise((resolve) => setTimeout(resolve, ms));
  const after = await sampleTree(Deno.pid);
  let used = 0;
  for (const [pid, sample] of after.processes) {
    const earlier = before.processes.get(pid);
    if (earlier) used += sample.cpuMs - earlier.cpuMs;
  }
  return used;
}

/**
 * Registers a test (named `[redis] …`) against two fresh servers sharing this process's Redis,
 * once over REST and once over TCP (`redisTest`); both servers are closed after.
 */
export function twoInstancesTest(
  name: string,
  fn: (a: TestServer, b: TestServer) => Promise<void>,
): void {
  redisTest(name, async (env) => {
    const [a, b] = [await startServer({ env }), await startServer({ env })];
    try {
      await fn(a, b);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
}

/**
 * Runs `attack` while `path` of the server is requested over a socket every 25 ms (another app's
 * function, or `/healthz`); fails when an answer is not 200 or one takes 1 s or more. Answers the
 * attack's result and the slowest answer, in ms.
 */
export async function probing<T>(
  s: TestServer,
  path: string,
  attack: () => Promise<T>,
): Promise<{ result: T; slowestMs: number }> {
  let slowestMs = 0;
  let running = true;
  const probe = (async () => {
    while (running) {
      const started = performance.now();
      const response = await fetch(`${s.url}${path}`);
      await response.body?.cancel();
      if (response.status !== 200) throw new Error(`${path} answered ${response.status}`);
      slowestMs = Math.max(slowestMs, performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();
  let result: T;
  try {
    result = await attack();
  } finally {
    running = false;
    await probe;
  }
  if (slowestMs >= 1000) throw new Error(`${path} waited ${Math.round(slowestMs)} ms`);
  return { result, slowestMs };
}

/**
 * Deploys another app and starts one request of it that holds its sandbox until `release` is
 * called, so the host counts other apps as being served (the host-time shares hold only then).
 * Resolves once that request runs; `release` ends it, and fails unless it answered.
 */
export async function busyNeighbour(s: TestServer): Promise<{ release(): Promise<void> }> {
  const app = appId("neighbour");
  await s.deployOk(app, {
    "api/busy.ts": `export default async (ctx) => {
      await ctx.kv.set("running", "1");
      while ((await ctx.kv.get("release")) === null) await new Promise((r) => setTimeout(r, 50));
      return { body: "done" };
    };`,
  });
  const served = s.call(app, "/busy");
  await waitFor(
    "the busy neighbour to run",
    async () => {
      const response = await s.api(`/apps/${app}/kv/running`);
      await response.body?.cancel();
      return response.status === 200;
    },
    10_000,
  );
  return {
    async release() {
      await (await s.api(`/apps/${app}/kv/release`, { method: "PUT", json: { value: "1" } })).body
        ?.cancel();
      const response = await served;
      const text = await response.text();
      if (text !== "done") {
        throw new Error(`the busy neighbour answered ${response.status}: ${text}`);
      }
    },
  };
}

/** A loopback upstream for outbound-fetch tests, whose handler each test sets. */
export function startUpstream(): {
  origin: string;
  /** `EGRESS_RULES` letting functions reach it (it is on loopback, a private address). */
  egressRules: string;
  set(next: (request: Request) => Response | Promise<Response>): void;
  close(): Promise<void>;
} {
  let handle: (request: Request) => Response | Promise<Response> = () => new Response("none");
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => handle(request),
  );
  const origin = `http://127.0.0.1:${server.addr.port}`;
  return {
    origin,
    egressRules: JSON.stringify([{ origin, allowPrivate: true }]),
    set(next) {
      handle = next;
    },
    close: () => server.shutdown(),
  };
}

/** Deploys a one-route app answering "ok" and answers the path of that route, for `probing`. */
export async function victimPath(s: TestServer): Promise<string> {
  const app = appId("victim");
  await s.deployOk(app, { "api/ok.ts": "export default () => ({ body: 'ok' });" });
  return `/apps/${app}/functions/ok`;
}

/** A child process whose stdout and stderr are collected as they come (see `watchProcess`). */
export interface WatchedProcess {
  /** Everything it wrote so far, stdout and stderr interleaved. */
  output(): string;
  /** Waits until its output matches `pattern`, answering the match; fails after `ms`. */
  wait(what: string, pattern: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** Sends `signal` (SIGKILL by default: a crash) and waits for its exit and its last output. */
  kill(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
  /** Its exit status, once it exited and its output was read. */
  status(): Promise<Deno.CommandStatus>;
}

/** Starts `deno <args>` with `options` and collects its output as it comes. */
export function watchProcess(
  args: string[],
  options: Omit<Deno.CommandOptions, "args" | "stdout" | "stderr"> = {},
): WatchedProcess {
  const child = new Deno.Command(Deno.execPath(), {
    ...options,
    args,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const read = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) output += chunk;
  };
  const done = Promise.all([read(child.stdout), read(child.stderr)]);
  const status = () => child.status.then(async (status) => (await done, status));
  return {
    output: () => output,
    async wait(what, pattern, ms = 30_000) {
      await waitFor(what, () => Promise.resolve(pattern.test(output)), ms);
      return output.match(pattern)!;
    },
    kill(signal: Deno.Signal = "SIGKILL") {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
      return status();
    },
    status,
  };
}

/** Shared test helpers: start a real server on a free port, deploy, call. */
import { loadConfig } from "../runtime/config.ts";
import { createPlatform, type Platform, type PlatformParts } from "../runtime/platform.ts";
import { createApp } from "../routes/app.ts";

/** The admin API key every test server uses. */
export const API_KEY = "test-admin-key-0123456789";

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
  /** Calls `/apps/<appId>/functions<path>`. */
  call(appId: string, path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
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
  dataDir?: string;
  parts?: PlatformParts;
}

/** Starts a server on 127.0.0.1 with a fresh data folder (or `dataDir`, to test restarts). */
export async function startServer(options: ServerOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "fn-test-" });
  const config = loadConfig({
    API_KEY,
    DATA_DIR: dataDir,
    PORT: "0",
    HOST: "127.0.0.1",
    ...options.env,
  });
  const platform = await createPlatform(config, options.parts);
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    createApp(platform).fetch,
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const deploy = (appId: string, files: Record<string, string>, extra = {}) =>
    fetch(`${url}/v1/apps/${appId}/deploy`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ source: "test", source_files: files, ...extra }),
    });
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
    call: (appId, path, init) => fetch(`${url}/apps/${appId}/functions${path}`, init),
    async close() {
      await server.shutdown();
      await platform.close();
    },
  };
}

let shared: Promise<TestServer> | undefined;

/**
 * Registers a test that uses this file's shared server (started on first use, stopped when the
 * test process ends). Sanitizers are off because the server outlives each single test.
 */
export function serverTest(name: string, fn: (server: TestServer) => Promise<void>): void {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      shared ??= startServer();
      await fn(await shared);
    },
  });
}

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
 * Sends bytes exactly as given over TCP (`fetch` would fix up Host, framing and encoding) and
 * reads the response until the server closes or the body is complete. Adds nothing.
 */
export async function rawHttp(url: string, request: string | Uint8Array): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    await conn.write(typeof request === "string" ? new TextEncoder().encode(request) : request);
    let text = "";
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(64 * 1024);
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += decoder.decode(buffer.subarray(0, n), { stream: true });
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) continue;
      const length = text.slice(0, end).match(/content-length:\s*(\d+)/i);
      if (length && new TextEncoder().encode(text.slice(end + 4)).length >= Number(length[1])) {
        break;
      }
    }
    const [head, ...rest] = text.split("\r\n\r\n");
    const [statusLine, ...headerLines] = head.split("\r\n");
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

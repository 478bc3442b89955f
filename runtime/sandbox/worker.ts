/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * The bootstrap of a deployment's Web Worker: bundled once at host start-up, loaded as a
 * `data:` URL module with no permissions. It imports the deployment's route modules, runs
 * handlers with `ctx`, and turns `kv`, `fetch` and `console` calls into messages to the host.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { WireFetchRequest, WireFetchResponse } from "../egress/fetch.ts";
import { LogBudget } from "../logs/logs.ts";
import { decodeBase64, encodeBase64 } from "./base64.ts";
import type { FunctionRequest, LogLevel, SandboxMessage } from "./protocol.ts";
import { BadResultError, toResult } from "./result.ts";

type Handler = (ctx: unknown) => unknown;
type WorkerInbound =
  | { t: "load"; dep: string; modules: Record<string, string> }
  | { t: "invoke"; id: string; file: string; req: FunctionRequest; env: Record<string, string> }
  | { t: "reply"; cid: number; ok: boolean; value?: unknown; error?: string }
  | { t: "ping" };

// Captured before user code runs, so a handler cannot forge or intercept protocol messages.
const post: (message: SandboxMessage | { t: "pong" }) => void = self.postMessage.bind(self);
const handlers = new Map<string, Handler>();
const calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
const currentRequest = new AsyncLocalStorage<string>();
/** Route module URL → route file, so stack frames can name the file they came from. */
const routeFiles = new Map<string, string>();
let nextCall = 0;
/** Invocations queued behind the load of a freshly restarted worker wait for it. */
let loading: Promise<void> = Promise.resolve();

function call(id: string, op: string, args: unknown[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const cid = ++nextCall;
    try {
      post({ t: "call", id, cid, op, args });
      calls.set(cid, { resolve, reject });
    } catch (error) {
      reject(
        new TypeError(`${op}: arguments must be strings or numbers (${(error as Error).message})`),
      );
    }
  });
}

/** `ctx.kv`: a relay; the host checks every argument (runtime/kv/calls.ts). */
function kvFor(id: string) {
  const relay = (method: string) => (...args: unknown[]) => call(id, `kv.${method}`, args);
  return Object.freeze({
    get: relay("get"),
    set: relay("set"),
    del: relay("del"),
    keys: relay("keys"),
  });
}

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

function abortable<T>(promise: Promise<T>, signal: AbortSignal | null | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    promise.then(resolve, reject);
  });
}

/**
 * `fetch` for handlers: the worker has no network permission, so the request goes to the host,
 * which applies the egress policy (no loopback, private or link-local targets) and credentials.
 */
async function proxiedFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const id = currentRequest.getStore();
  if (!id) throw new TypeError("fetch can only be called while a request is being handled");
  const request = new Request(input, init);
  const wire: WireFetchRequest = {
    url: request.url,
    method: request.method,
    headers: [...request.headers],
    body: request.body ? encodeBase64(new Uint8Array(await request.arrayBuffer())) : null,
  };
  const answer = await abortable(call(id, "fetch", [wire]), request.signal) as WireFetchResponse;
  const body = answer.body === null || NULL_BODY_STATUSES.has(answer.status)
    ? null
    : decodeBase64(answer.body);
  const response = new Response(body, {
    status: answer.status,
    statusText: answer.statusText,
    headers: answer.headers,
  });
  Object.defineProperty(response, "url", { value: answer.url });
  Object.defineProperty(response, "redirected", { value: answer.redirected });
  return response;
}

function format(args: unknown[]): string {
  return args.map((arg) => typeof arg === "string" ? arg : Deno.inspect(arg, { depth: 6 })).join(
    " ",
  );
}

/**
 * Per running request: what its console has sent so far. The host enforces the same bounds;
 * checking them here too keeps a flood of console calls from crossing to the host at all.
 */
const logBudgets = new Map<string, LogBudget>();

function sendLog(id: string | null, level: LogLevel, message: string): void {
  const budget = id === null ? undefined : logBudgets.get(id);
  if (budget && !budget.admit(message.length)) return;
  post({ t: "log", id, level, message });
}

/** Ends a request's log budget, telling the host what was dropped; call before its result. */
function closeLogBudget(id: string): void {
  const budget = logBudgets.get(id);
  logBudgets.delete(id);
  if (budget && budget.dropped > 0) {
    post({ t: "log-dropped", id, entries: budget.dropped, characters: budget.droppedCharacters });
  }
}

function captureConsole(): void {
  const levels: Record<string, LogLevel> = {
    log: "info",
    info: "info",
    debug: "debug",
    trace: "debug",
    warn: "warn",
    error: "error",
    dir: "info",
  };
  for (const [method, level] of Object.entries(levels)) {
    (console as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      sendLog(currentRequest.getStore() ?? null, level, format(args));
    };
  }
}

interface CallSite {
  getFileName(): string | undefined;
  getFunctionName(): string | null;
  getLineNumber(): number | null;
  getColumnNumber(): number | null;
  isAsync?(): boolean;
}

/**
 * Formats stacks V8-style, but names route bundles as `bundle:<file>:<line>:<col>` for the host
 * to map through source maps, and leaves out this bootstrap's own frames.
 */
function mapStackFrames(): void {
  const self = import.meta.url;
  (Error as unknown as { prepareStackTrace: unknown }).prepareStackTrace = (
    error: unknown,
    sites: CallSite[],
  ) => {
    let head: string;
    try {
      head = Error.prototype.toString.call(error);
    } catch {
      head = "Error";
    }
    const frames = sites.flatMap((site) => {
      const url = site.getFileName() ?? "<anonymous>";
      // The bootstrap and the AsyncLocalStorage wrapper around each handler are the platform's.
      if (url === self || url.startsWith("ext:deno_node/async_hooks")) return [];
      const file = routeFiles.get(url);
      const where = `${
        file ? `bundle:${file}` : url
      }:${site.getLineNumber()}:${site.getColumnNumber()}`;
      const name = site.getFunctionName();
      const prefix = site.isAsync?.() ? "async " : "";
      return [`    at ${prefix}${name ? `${name} (${where})` : where}`];
    });
    return [head, ...frames].join("\n");
  };
}

function lockDown(): void {
  const refuse = (what: string) => () => {
    throw new Error(`${what} is not available inside a function`);
  };
  Object.defineProperty(globalThis, "fetch", { value: proxiedFetch, writable: false });
  Object.defineProperty(Deno, "exit", { value: refuse("Deno.exit()") });
  Object.defineProperty(self, "close", { value: refuse("close()") });
  Object.defineProperty(self, "postMessage", { value: refuse("postMessage()") });
  // A function cannot take over the message channel of the sandbox.
  self.addEventListener("message", onMessage);
  Object.defineProperty(self, "onmessage", { value: null, writable: false });
  self.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    const reason = event.reason as Error | undefined;
    post({
      t: "log",
      id: null,
      level: "error",
      message: `unhandled promise rejection: ${reason?.stack ?? String(event.reason)}`,
    });
  });
  self.addEventListener("error", (event) => {
    event.preventDefault();
    post({
      t: "log",
      id: null,
      level: "error",
      message: `uncaught error: ${(event.error as Error)?.stack ?? event.message}`,
    });
  });
}

async function load(dep: string, modules: Record<string, string>): Promise<void> {
  for (const [file, code] of Object.entries(modules)) {
    let handler: unknown;
    const url = `data:text/javascript;charset=utf-8,${encodeURIComponent(code)}`;
    routeFiles.set(url, file);
    try {
      const mod = await import(url);
      handler = mod.default;
    } catch (error) {
      const message = `${file} failed to load: ${(error as Error)?.message ?? String(error)}`;
      post({ t: "load-failed", dep, error: { file, message } });
      return;
    }
    if (typeof handler !== "function") {
      const message = `${file}: the default export must be a function, got ${
        handler === null ? "null" : typeof handler
      }`;
      post({ t: "load-failed", dep, error: { file, message } });
      return;
    }
    handlers.set(file, handler as Handler);
  }
  post({ t: "loaded", dep });
}

function decodeBody(body: FunctionRequest["body"]): unknown {
  if (body.type === "none") return undefined;
  if (body.type === "bytes") return decodeBase64(body.base64);
  return body.value;
}

async function invoke(message: Extract<WorkerInbound, { t: "invoke" }>): Promise<void> {
  const { id, file, req, env } = message;
  await loading;
  const handler = handlers.get(file);
  const ctx = Object.freeze({
    req: Object.freeze({ ...req, body: decodeBody(req.body) }),
    env: Object.freeze({ ...env }),
    kv: kvFor(id),
  });
  logBudgets.set(id, new LogBudget());
  try {
    const out = await currentRequest.run(id, () => handler!(ctx));
    const result = toResult(out);
    closeLogBudget(id);
    post({ t: "result", id, result });
  } catch (error) {
    closeLogBudget(id);
    const kind = error instanceof BadResultError ? "bad-result" : "threw";
    const err = error as Error | undefined;
    const message = err instanceof Error
      ? `${err.name}: ${err.message}`
      : `thrown: ${String(error)}`;
    post({ t: "failed", id, error: { kind, message, stack: err?.stack } });
  }
}

function onMessage(event: MessageEvent<WorkerInbound>): void {
  const message = event.data;
  switch (message.t) {
    case "load":
      loading = load(message.dep, message.modules);
      break;
    case "invoke":
      void invoke(message);
      break;
    case "reply": {
      const pending = calls.get(message.cid);
      calls.delete(message.cid);
      if (message.ok) pending?.resolve(message.value);
      else pending?.reject(new Error(message.error));
      break;
    }
    case "ping":
      post({ t: "pong" });
      break;
  }
}

captureConsole();
mapStackFrames();
lockDown();

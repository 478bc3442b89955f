/**
 * The function runtime of a sandbox process: imports the deployment's route modules, runs
 * handlers with `ctx`, and turns `kv`, `fetch` and `console` calls into frames to the host.
 * It runs on the process's main thread, after the process has given up every permission and
 * locked its global scope down (main.ts). It imports only the shared protocol and its folder.
 */
import {
  type Envelope,
  type HostMessage,
  LogBudget,
  type LogLevel,
  type SandboxMessage,
  type WireFetchRequest,
  type WireFetchResponse,
} from "../protocol.ts";
import {
  BadResultError,
  MAX_FRAME_BYTES,
  MAX_HEADER_BYTES,
  MAX_RESPONSE_BYTES,
  MAX_SCHEDULES_PER_DEPLOYMENT,
} from "../protocol.ts";
import { FrameReader, FrameWriter } from "../frames.ts";
import { valueShapeProblem } from "./value_shape.ts";
import { originalPosition, type ParsedMap, parseSourceMap } from "../sourcemap.ts";
import { CreditedStream, CreditWindow, sendWindowed } from "../streams.ts";
import type { Kv } from "../ctx.ts";
import type { RequestContext } from "./context.ts";
import { lockDown } from "./lockdown.ts";
import { headOf, toResult } from "./result.ts";
import { BadRequestError } from "./request.ts";
import { prepareCall, type RouteShape, shapeOf } from "./shapes.ts";
import { installEnvView, withHint } from "./env.ts";
import { ReservedHeaderDrops } from "./drops.ts";
import { IdTable } from "../id_table.ts";

/** The window of the budget of lines outside requests, in ms. */
const OUTSIDE_WINDOW_MS = 10_000;
/** Longest error message and stack sent for a failed invocation; the rest is cut. */
const MAX_ERROR_CHARS = 16 * 1024;

function cut(text: string | undefined): string | undefined {
  return text && text.length > MAX_ERROR_CHARS
    ? `${text.slice(0, MAX_ERROR_CHARS)}… (${text.length} characters, cut)`
    : text;
}

/** Frames to the host, batched per turn; set by `startRuntime` before any user code runs. */
let out: FrameWriter;
function post(header: SandboxMessage, body?: Uint8Array): void {
  out.send(header, body);
}
/**
 * Reads the host's frames: sizes checked, but not the header's shape (json_shape.ts), which
 * guards the host from what a sandbox writes; the host's own frames need no such check.
 */
const frames = new FrameReader({
  maxFrameBytes: MAX_FRAME_BYTES,
  maxHeaderBytes: MAX_HEADER_BYTES,
});

/** Route file → how its module is called. */
const routes = new Map<string, RouteShape>();
const reservedDrops = new ReservedHeaderDrops();

/**
 * What the runtime keeps of a running request; the request context carries it to every
 * continuation of its handler (so no table by request id is needed).
 */
export interface RunningRequest {
  /** Its number on the wire. */
  id: number;
  /** Its variables, for the `Deno.env` view. */
  env: Readonly<Record<string, string>>;
  /** What its console has sent so far (the host enforces the same bounds). */
  budget: LogBudget;
  /** Whether it was told that its handler read `ctx` as a Request (one line each). */
  misreadTold: boolean;
  /** Set once it has ended: a line of a timer it left counts as outside any request. */
  ended: boolean;
}

/** A handler's calls waiting for the host's reply, by call id (not a Map: see id_table.ts). */
const calls = new IdTable<{
  resolve: (v: Envelope<unknown>) => void;
  reject: (e: Error) => void;
  /** A fetch: a body that streams after the reply gets its stream at once (see onFrame). */
  fetch?: { id: number };
}>();
/** Fetch bodies streaming in from the host, by call id. */
const fetchBodies = new Map<number, CreditedStream>();
/** Windows of the streamed responses being sent, by request number; the host grants credit. */
const responseWindows = new Map<number, CreditWindow>();
/** Windows of fetches' streamed request bodies being sent, by call id. */
const uploadWindows = new Map<number, CreditWindow>();
/** Set by `startRuntime` before any user code runs. */
let currentRequest: RequestContext<RunningRequest>;
/** Route module URL → route file, so stack frames can name the file they came from. */
const routeFiles = new Map<string, string>();
/** Module name → its source map (JSON text), as the deployment was loaded with. */
let sourceMaps: Record<string, string> = {};
/** Module name → its parsed source map, parsed at the first stack that needs it. */
const parsedMaps = new Map<string, ParsedMap | null>();

/** Where a position of a loaded module was in the user's source, or null when unknown. */
function originalIn(module: string, line: number, column: number) {
  if (!parsedMaps.has(module)) {
    let map: ParsedMap | null = null;
    try {
      if (Object.hasOwn(sourceMaps, module)) map = parseSourceMap(sourceMaps[module]!);
    } catch { /* an unreadable map leaves the frame as it is */ }
    parsedMaps.set(module, map);
  }
  const map = parsedMaps.get(module);
  return map ? originalPosition(map, line, column) : null;
}
/** Invocations wait for the deployment's modules to finish loading. */
let loading: Promise<void> = Promise.resolve();

function call(
  id: number,
  op: string,
  args: unknown[],
  body?: Uint8Array | ReadableStream<Uint8Array>,
): Promise<Envelope<unknown>> {
  return new Promise((resolve, reject) => {
    let cid = 0;
    try {
      // The host takes a frame past HEADER_SHAPE as a broken wire and stops the sandbox:
      // refuse such arguments here, to the handler that passed them.
      const problem = argumentsProblem(args);
      if (problem) throw new Error(problem);
      const streamed = body instanceof ReadableStream;
      cid = calls.add({ resolve, reject, ...(op === "fetch" ? { fetch: { id } } : {}) });
      post({ t: "call", id, cid, op, args }, streamed ? undefined : body);
      if (streamed) void upload(id, cid, body);
    } catch (error) {
      calls.delete(cid);
      reject(
        new TypeError(`${op}: arguments must be strings or numbers (${(error as Error).message})`),
      );
    }
  });
}

/** What a call's arguments may hold: well inside what a frame header may (HEADER_SHAPE). */
const ARGUMENT_SHAPE = { depth: 16, nodes: 512 };

/**
 * Why `args` would make a frame the host refuses (nested too deep, or too many arrays, objects
 * and keys), or null.
 */
function argumentsProblem(args: unknown[]): string | null {
  // The list of arguments is a level of its own.
  const problem = valueShapeProblem(args, {
    depth: ARGUMENT_SHAPE.depth + 1,
    nodes: ARGUMENT_SHAPE.nodes,
  });
  if (problem === "depth") return `they nest more than ${ARGUMENT_SHAPE.depth} levels deep`;
  if (problem === "nodes") {
    return `they hold more than ${ARGUMENT_SHAPE.nodes} arrays, objects and keys`;
  }
  return null;
}

/**
 * Sends a fetch's streamed request body after its call, never more than a window ahead of what
 * the host has sent upstream.
 */
async function upload(id: number, cid: number, body: ReadableStream<Uint8Array>): Promise<void> {
  const window = new CreditWindow();
  uploadWindows.set(cid, window);
  const reader = body.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      const send = (part: Uint8Array) => post({ t: "fetch-body", id, cid }, part);
      if (!await sendWindowed(window, toChunk(value), send)) {
        await reader.cancel();
        return;
      }
    }
    post({ t: "fetch-body-end", id, cid });
  } catch (error) {
    post({ t: "fetch-body-end", id, cid, error: describeThrown(error) });
  } finally {
    uploadWindows.delete(cid);
  }
}

/** `ctx.kv`: a relay; the host checks every argument (runtime/kv/calls.ts). */
function kvFor(id: number) {
  const relay = (method: string) => async (...args: unknown[]) =>
    (await call(id, `kv.${method}`, args)).header;
  return Object.freeze({
    get: relay("get"),
    set: relay("set"),
    del: relay("del"),
    keys: relay("keys"),
    list: relay("list"),
    incr: relay("incr"),
    getMany: relay("getMany"),
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
 * `fetch` for handlers: the process has no network permission, so the request goes to the host,
 * which applies the egress policy (no loopback, private or link-local targets) and credentials.
 */
async function proxiedFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const running = currentRequest.get();
  if (!running) throw new TypeError("fetch can only be called while a request is being handled");
  const { id } = running;
  // A stream is sent as it is produced; any other body (text, bytes, a form) is sent whole.
  const streamed = init?.body instanceof ReadableStream;
  const request = new Request(input, streamed ? { ...init, duplex: "half" } as RequestInit : init);
  const body = !request.body
    ? undefined
    : streamed
    ? request.body
    : new Uint8Array(await request.arrayBuffer());
  const wire: WireFetchRequest = {
    url: request.url,
    method: request.method,
    headers: [...request.headers],
    hasBody: body !== undefined,
    ...(streamed ? { streamed: true } : {}),
    redirect: request.redirect,
  };
  const answer = await abortable(call(id, "fetch", [wire], body), request.signal);
  const meta = answer.header as WireFetchResponse;
  // The body streams in as the upstream sends it (onFrame made its stream with the reply).
  const incoming = (answer as { stream?: ReadableStream<Uint8Array> }).stream ?? null;
  let responseBody = incoming;
  if (NULL_BODY_STATUSES.has(meta.status)) {
    await incoming?.cancel();
    responseBody = null;
  }
  const response = new Response(responseBody, {
    status: meta.status,
    statusText: meta.statusText,
    headers: meta.headers,
  });
  Object.defineProperty(response, "url", { value: meta.url });
  Object.defineProperty(response, "redirected", { value: meta.redirected });
  return response;
}

function format(args: unknown[]): string {
  return args.map((arg) => typeof arg === "string" ? arg : Deno.inspect(arg, { depth: 6 })).join(
    " ",
  );
}

/**
 * Lines outside any request (timers, rejections) get a budget per window too; the host keeps
 * the authoritative one, and this one keeps a flood off the wire.
 */
let outside = { since: 0, budget: new LogBudget() };

/**
 * A seed-shape handler read a Request member off `ctx` (`what`): one warning for its request
 * saying which shapes take a web Request. Kept as a stable function: shapes.ts makes the `ctx`
 * prototype once for it.
 */
function misreadCtx(what: string): void {
  const request = currentRequest.get() ?? null;
  if (request?.misreadTold) return;
  if (request) request.misreadTold = true;
  sendLog(
    request,
    "warn",
    `ctx.${what} is undefined: a default-export function receives the platform's ctx, not a ` +
      "web Request. Read ctx.request (a Request) or ctx.req, or export GET(request) (and " +
      "POST, …) or a default object with fetch(request, env, ctx), as Workers and Vercel do",
  );
}

/**
 * Sends a console line of `request` (null outside any), under its budget: checking the bounds
 * here too keeps a flood of console calls from crossing to the host at all.
 */
function sendLog(request: RunningRequest | null, level: LogLevel, message: string): void {
  // A line of a request that has ended (a timer it left) counts against the outside budget.
  const running = request && !request.ended ? request : null;
  let budget = running?.budget;
  const id = running ? running.id : null;
  if (!budget) {
    const now = Date.now();
    if (now - outside.since >= OUTSIDE_WINDOW_MS) {
      const { dropped, droppedCharacters } = outside.budget;
      outside = { since: now, budget: new LogBudget() };
      if (dropped > 0) {
        post({
          t: "log",
          id: null,
          level: "warn",
          message: `${dropped} log lines outside requests (${droppedCharacters} characters) ` +
            "were dropped in the sandbox",
        });
      }
    }
    budget = outside.budget;
  }
  if (budget && !budget.admit(message.length)) return;
  post({ t: "log", id, level, message });
}

/**
 * Ends a request: its log budget, telling the host what was dropped, and its `Deno.env` view;
 * call before its last frame.
 */
function endRequest(request: RunningRequest): void {
  request.ended = true;
  const { id, budget } = request;
  if (budget.dropped > 0) {
    post({ t: "log-dropped", id, entries: budget.dropped, characters: budget.droppedCharacters });
  }
}

function captureConsole(): void {
  const levels: Array<[string, LogLevel]> = [
    ["log", "info"],
    ["info", "info"],
    ["debug", "debug"],
    ["trace", "debug"],
    ["warn", "warn"],
    ["error", "error"],
    ["dir", "info"],
  ];
  for (const [method, level] of levels) {
    (console as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      sendLog(currentRequest.get() ?? null, level, format(args));
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
      // The bootstrap and the request context around each handler are the platform's.
      if (url === self || url.startsWith("ext:deno_node/async_hooks")) return [];
      const file = routeFiles.get(url);
      const line = site.getLineNumber();
      const column = site.getColumnNumber();
      const original = file && line !== null && column !== null
        ? originalIn(file, line, column)
        : null;
      const where = original
        ? `${original.file}:${original.line}:${original.column}`
        : `${file ? `bundle:${file}` : url}:${line}:${column}`;
      const name = site.getFunctionName();
      const prefix = site.isAsync?.() ? "async " : "";
      return [`    at ${prefix}${name ? `${name} (${where})` : where}`];
    });
    return [head, ...frames].join("\n");
  };
}

function guardErrors(): void {
  Object.defineProperty(globalThis, "fetch", { value: proxiedFetch, writable: false });
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    const reason = describeThrown(event.reason);
    sendLog(null, "error", `unhandled promise rejection: ${reason}`);
  });
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    const reason = event.error === undefined ? event.message : describeThrown(event.error);
    sendLog(null, "error", `uncaught error: ${reason}`);
  });
}

/** A thrown value as text (its stack where it has one), cut to MAX_ERROR_CHARS; never throws. */
function describeThrown(value: unknown): string {
  try {
    return cut(withHint(value instanceof Error ? value.stack ?? String(value) : String(value)))!;
  } catch {
    return "a value that cannot be shown";
  }
}

/** The name of a deployment's single bundle (runtime/deploy/compile.ts BUNDLE). */
const BUNDLE = "$bundle";

/** Imports one module from its source; its stack frames name `name`. */
async function importModule(name: string, code: string): Promise<Record<string, unknown>> {
  const url = `data:text/javascript;charset=utf-8,${encodeURIComponent(code)}`;
  routeFiles.set(url, name);
  return await import(url);
}

/**
 * Loads a deployment: its bundle's table of route modules, or (deployments stored before the
 * bundle) a module per route file. Each route module must have a shape the platform can call
 * (shapes.ts); the first that has none fails the load, naming the shapes accepted.
 */
async function load(modules: Record<string, string>): Promise<void> {
  const table: Array<[string, unknown]> = [];
  /** Bundles made before named exports were read list each route's default export alone. */
  let defaultOnly = false;
  let schedules: unknown = {};
  let current = BUNDLE;
  try {
    if (Object.hasOwn(modules, BUNDLE)) {
      const bundle = await importModule(BUNDLE, modules[BUNDLE]!);
      defaultOnly = bundle.modules === undefined;
      table.push(...Object.entries((bundle.modules ?? bundle.routes) as Record<string, unknown>));
      schedules = reportable(plain(bundle.schedules));
    } else {
      for (const [file, code] of Object.entries(modules)) {
        current = file;
        table.push([file, await importModule(file, code)]);
      }
    }
    for (const [file, exports] of table) {
      current = file;
      routes.set(file, shapeOf(exports, defaultOnly));
    }
  } catch (error) {
    let reason = "a value that cannot be shown";
    try {
      reason = error instanceof Error ? error.message : String(error);
    } catch { /* keep the placeholder */ }
    const stack = error instanceof Error ? cut(error.stack) : undefined;
    const file = current === BUNDLE ? "" : current;
    post({ t: "load-failed", error: { file, message: cut(withHint(reason))!, stack } });
    return;
  }
  post({ t: "loaded", schedules });
}

/** At most one schedule past the limit: enough for the host to refuse the deploy, naming it. */
function reportable(schedules: unknown): unknown {
  if (typeof schedules !== "object" || schedules === null) return schedules;
  const entries = Object.entries(schedules);
  return entries.length > MAX_SCHEDULES_PER_DEPLOYMENT
    ? Object.fromEntries(entries.slice(0, MAX_SCHEDULES_PER_DEPLOYMENT + 1))
    : schedules;
}

/** What module exports hold, as plain JSON (the host checks it); {} if it cannot be. */
function plain(value: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(value ?? {}));
  } catch {
    return {};
  }
}

async function invoke(
  message: Extract<HostMessage, { t: "invoke" }>,
  bytes: Uint8Array | undefined,
): Promise<void> {
  const { id, file } = message;
  await loading;
  const route = routes.get(file);
  if (!route) {
    post({ t: "failed", id, error: { kind: "threw", message: `no route module ${file}` } });
    return;
  }
  /** Work the handler asked to finish after the response (`ctx.waitUntil`). */
  let work: Set<Promise<unknown>> | null = null;
  let finished = false;
  const env = Object.freeze({ ...message.env });
  const request: RunningRequest = {
    id,
    env,
    budget: new LogBudget(),
    misreadTold: false,
    ended: false,
  };
  let run: () => unknown;
  try {
    run = prepareCall(route, message.req, bytes, {
      env,
      kv: kvFor(id) as unknown as Kv,
      waitUntil(promise: unknown): void {
        if (finished) {
          sendLog(
            request,
            "warn",
            "ctx.waitUntil was called after the request's work had finished",
          );
          return;
        }
        (work ??= new Set()).add(
          Promise.resolve(promise).catch((error) =>
            sendLog(request, "error", `ctx.waitUntil work failed: ${describeThrown(error)}`)
          ),
        );
      },
      sse: serverSentEvents,
      misread: misreadCtx,
    });
  } catch (error) {
    if (!(error instanceof BadRequestError)) throw error;
    post({ t: "failed", id, error: { kind: "bad-request", message: error.message } });
    return;
  }
  let streaming = false;
  try {
    const out = await currentRequest.run(request, run);
    const { result, body, stream, drops } = message.req.head
      ? headOf(toResult(out))
      : toResult(out);
    for (const line of reservedDrops.report(drops ?? [])) sendLog(request, "warn", line);
    streaming = stream !== undefined;
    if (!streaming && !work) {
      endRequest(request);
      post({ t: "result", id, result }, body);
      return;
    }
    post({ t: "result", id, result, open: true }, body);
    if (stream) await currentRequest.run(request, () => pump(id, stream));
    streaming = false;
    while (work) {
      const batch: Promise<unknown>[] = [...work];
      work = null;
      await Promise.all(batch);
    }
    finished = true;
    endRequest(request);
    post({ t: "done", id });
  } catch (error) {
    finished = true;
    endRequest(request);
    const kind = error instanceof BadResultError ? "bad-result" : "threw";
    const err = error as Error | undefined;
    let text: string;
    let stack: string | undefined;
    try {
      text = err instanceof Error ? `${err.name}: ${err.message}` : `thrown: ${String(error)}`;
      stack = err instanceof Error ? err.stack : undefined;
    } catch {
      text = "thrown: a value that cannot be shown";
    }
    const where = streaming ? "while streaming its response: " : "";
    post({
      t: "failed",
      id,
      error: {
        kind,
        message: cut(where + withHint(text))!,
        stack: stack === undefined ? undefined : cut(withHint(stack)),
      },
    });
  }
}

/**
 * Sends a streamed body as `chunk` frames, then `end`. Strings are sent as UTF-8; the total is
 * bounded by MAX_RESPONSE_BYTES (the host checks it too).
 */
async function pump(id: number, stream: AsyncIterable<unknown>): Promise<void> {
  let total = 0;
  // At most a window ahead of what the client read: a client that stops reading stops this.
  const window = new CreditWindow();
  responseWindows.set(id, window);
  try {
    for await (const piece of stream) {
      const bytes = toChunk(piece);
      if (bytes.length === 0) continue;
      total += bytes.length;
      if (total > MAX_RESPONSE_BYTES) {
        throw new BadResultError(
          `the streamed response passed ${MAX_RESPONSE_BYTES} bytes, the limit (6 MB)`,
        );
      }
      // The client went away: leaving the loop cancels the handler's stream.
      if (!await sendWindowed(window, bytes, (part) => post({ t: "chunk", id }, part))) return;
    }
    post({ t: "end", id });
  } finally {
    responseWindows.delete(id);
  }
}

function toChunk(piece: unknown): Uint8Array {
  if (typeof piece === "string") return new TextEncoder().encode(piece);
  if (piece instanceof Uint8Array) return piece.slice();
  if (piece instanceof ArrayBuffer) return new Uint8Array(piece.slice(0));
  throw new BadResultError(
    `a streamed body may yield strings or bytes, got ${piece === null ? "null" : typeof piece}`,
  );
}

/** One server-sent event: a string is its data; an object may name the event and its id. */
type SseEvent = string | { data: unknown; event?: string; id?: string; retry?: number };

/**
 * `ctx.sse(events)`: a response that streams `events` (an async iterable) as
 * `text/event-stream`, each event framed as the SSE format wants (multi-line data split).
 */
function serverSentEvents(events: AsyncIterable<SseEvent>, init: { status?: number } = {}) {
  async function* encode() {
    for await (const event of events) {
      const fields = typeof event === "string" ? { data: event } : event;
      let text = "";
      if (fields.event) text += `event: ${String(fields.event).replace(/[\r\n]/g, "")}\n`;
      if (fields.id) text += `id: ${String(fields.id).replace(/[\r\n]/g, "")}\n`;
      if (fields.retry) text += `retry: ${Number(fields.retry)}\n`;
      const data = typeof fields.data === "string" ? fields.data : JSON.stringify(fields.data);
      for (const line of data.split(/\r?\n/)) text += `data: ${line}\n`;
      yield `${text}\n`;
    }
  }
  return {
    status: init.status ?? 200,
    headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
    body: encode(),
  };
}

function onBytes(chunk: Uint8Array): void {
  for (const frame of frames.push(chunk)) {
    onFrame(frame as Envelope<HostMessage>);
  }
}

function onFrame({ header, body }: Envelope<HostMessage>): void {
  switch (header.t) {
    case "load": {
      const code = JSON.parse(new TextDecoder().decode(body)) as {
        modules: Record<string, string>;
        sourceMaps: Record<string, string>;
      };
      sourceMaps = code.sourceMaps ?? {};
      loading = load(code.modules);
      break;
    }
    case "invoke":
      // The body is a view of the socket's read buffer, which holds other frames too: the
      // handler gets bytes of its own (it may keep, transfer or read around them).
      void invoke(header, body?.slice());
      break;
    case "reply": {
      const pending = calls.get(header.cid);
      calls.delete(header.cid);
      if (!header.ok) {
        pending?.reject(new Error(header.error));
        break;
      }
      if (pending?.fetch && (header.value as WireFetchResponse | null)?.hasBody) {
        // Chunks may follow in this very batch of frames: the stream exists before they do.
        const { cid } = header;
        const { id } = pending.fetch;
        const stream = new CreditedStream(
          (bytes) => post({ t: "fetch-credit", id, cid, bytes }),
          () => {
            fetchBodies.delete(cid);
            post({ t: "fetch-cancel", id, cid });
          },
        );
        fetchBodies.set(cid, stream);
        pending.resolve(
          { header: header.value, body, stream: stream.readable } as Envelope<unknown>,
        );
        break;
      }
      pending?.resolve({ header: header.value, body });
      break;
    }
    case "fetch-chunk":
      if (body) fetchBodies.get(header.cid)?.push(body.slice());
      break;
    case "fetch-end":
      fetchBodies.get(header.cid)?.end(
        header.error === undefined ? undefined : new TypeError(header.error),
      );
      fetchBodies.delete(header.cid);
      break;
    case "credit":
      responseWindows.get(header.id)?.grant(header.bytes);
      break;
    case "fetch-body-credit":
      uploadWindows.get(header.cid)?.grant(header.bytes);
      break;
    case "fetch-body-cancel":
      uploadWindows.get(header.cid)?.close();
      break;
    case "cancel":
      responseWindows.get(header.id)?.close();
      break;
  }
}

/**
 * Installs the runtime (console capture, stack mapping, error events, proxied `fetch`) and
 * locks the global scope down; frames go to `writer`, `context` tracks which request runs.
 * Returns what takes the host's bytes. Call once, before any user code runs.
 */
export function startRuntime(
  writer: FrameWriter,
  context: RequestContext<RunningRequest>,
): (chunk: Uint8Array) => void {
  out = writer;
  currentRequest = context;
  captureConsole();
  mapStackFrames();
  guardErrors();
  installEnvView(() => {
    const request = currentRequest.get();
    return request && !request.ended ? request.env : undefined;
  });
  lockDown();
  return onBytes;
}

/**
 * The handler shapes a route module may take, told apart once when the deployment loads: the
 * seed's `export default (ctx) => result`, a Workers-style module `export default { fetch,
 * scheduled? }` (also a Hono or itty app), and per-method named exports `export function
 * GET(request, ctx)` as in Vercel and Next route handlers. Each shape is then called with the
 * arguments it expects.
 */
import type { WireRequest } from "../protocol.ts";
import type { Ctx, Kv } from "../ctx.ts";
import { toFunctionRequest, toWebRequest } from "./request.ts";

type Fn = (...args: unknown[]) => unknown;

/** How one route module is called. */
export type RouteShape =
  | { kind: "ctx"; handler: Fn }
  | { kind: "module"; target: object; fetch: Fn; scheduled: Fn | undefined; cron: string }
  | { kind: "methods"; methods: Map<string, Fn> };

/** Methods a module may export a handler for, in the order `Allow` lists them. */
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

/** What every refusal of a shape ends with: the shapes the platform accepts. */
const SHAPES = "a route file exports one of: `export default async function (ctx)` (the " +
  "platform's handler), `export default { fetch(request, env, ctx) }` (a Workers module, a Hono " +
  "or itty app), or method handlers `export async function GET(request, ctx)` (" +
  METHODS.join(", ") + ")";

/** A route module the platform cannot call; the message says which shapes it accepts. */
export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ShapeError";
  }
}

function kindOf(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
}

/**
 * The shape of a route module from its exports (a module namespace), or from its default export
 * alone (deployments bundled before named exports were read). Throws ShapeError.
 */
export function shapeOf(exports: unknown, defaultOnly: boolean): RouteShape {
  const module = (defaultOnly ? { default: exports } : exports) as Record<string, unknown>;
  const fallback = module.default;
  const methods = new Map<string, Fn>();
  for (const method of METHODS) {
    const handler = module[method];
    if (handler === undefined) continue;
    if (typeof handler !== "function") {
      throw new ShapeError(`the ${method} export must be a function, got ${kindOf(handler)}`);
    }
    methods.set(method, handler as Fn);
  }
  if (fallback !== undefined && methods.size > 0) {
    throw new ShapeError(
      `it has both a default export and method handlers (${[...methods.keys()].join(", ")}); ` +
        `keep one shape: ${SHAPES}`,
    );
  }
  const schedule = module.schedule as { cron?: unknown } | undefined;
  if (methods.size > 0) {
    if (schedule !== undefined && !methods.has("GET")) {
      throw new ShapeError("it exports a schedule but no GET handler: a scheduled run calls GET");
    }
    return { kind: "methods", methods };
  }
  if (typeof fallback === "function") return { kind: "ctx", handler: fallback as Fn };
  if (fallback === undefined) throw new ShapeError(`no default export: ${SHAPES}`);
  const target = fallback as Record<string, unknown> | null;
  if (typeof target !== "object" || target === null || typeof target.fetch !== "function") {
    const what = kindOf(fallback);
    throw new ShapeError(
      `the default export must be a function, got ${what}${
        what === "object" ? " with no fetch method" : ""
      }; ${SHAPES}`,
    );
  }
  const scheduled = target.scheduled;
  if (scheduled !== undefined && typeof scheduled !== "function") {
    throw new ShapeError(
      `the default export's scheduled must be a function, got ${kindOf(scheduled)}`,
    );
  }
  if (schedule !== undefined && scheduled === undefined) {
    throw new ShapeError(
      "it exports a schedule, but its default export has no scheduled(event, env, ctx) method " +
        "to run it",
    );
  }
  return {
    kind: "module",
    target,
    fetch: target.fetch as Fn,
    scheduled: scheduled as Fn | undefined,
    cron: typeof schedule?.cron === "string" ? schedule.cron : "",
  };
}

/** What a call needs besides the request: the parts of `ctx` the runtime provides. */
export interface CallParts {
  env: Readonly<Record<string, string>>;
  kv: Kv;
  waitUntil(promise: Promise<unknown>): void;
  sse: Ctx["sse"];
  /** Tells the request's log that its handler treated `ctx` as a web Request (reading `what`). */
  misread?(what: string): void;
}

/**
 * `Request` members a default-export function may read off `ctx` because it expected a web
 * `Request` (`(req) => Response` from other platforms): each still answers `undefined`, and the
 * request's log says what to write instead, before whatever fails next (`new URL(undefined)`).
 */
const REQUEST_MEMBERS = ["url", "method", "headers", "json", "text", "formData", "arrayBuffer"];

/** What builds a seed-shape `ctx`. */
type CtxClass = new (
  wire: WireRequest,
  bytes: Uint8Array | undefined,
  parts: CallParts,
) => Ctx;

/**
 * `ctx.request` for every seed-shape `ctx`: one function, so that every ctx shares one hidden
 * class. (An object literal's `get request()` is a new function per request: each ctx took a
 * hidden class (map) of its own, made in the old generation, and those maps held every
 * request's objects through the young-generation collections; a third of what a sandbox
 * allocated survived a scavenge, with pauses of about 12 ms.) Read through an object made with
 * `Object.create(ctx)`, it answers that ctx's request.
 */
function requestGetter(this: object): Request | undefined {
  return SeedCtxBase.requestOf(this);
}

/** What every seed-shape ctx keeps to build its `request` at first use. */
class SeedCtxBase {
  readonly #wire: WireRequest;
  readonly #bytes: Uint8Array | undefined;
  #request: Request | undefined;

  constructor(wire: WireRequest, bytes: Uint8Array | undefined) {
    this.#wire = wire;
    this.#bytes = bytes;
  }

  /**
   * The web Request of `value`, a ctx or an object made from one: built at first use, so that
   * a handler that never reads it pays nothing.
   */
  static requestOf(value: object): Request | undefined {
    for (let at: object | null = value; at !== null; at = Object.getPrototypeOf(at)) {
      if (#wire in at) return at.#request ??= toWebRequest(at.#wire, at.#bytes);
    }
    return undefined;
  }
}

/**
 * The class of a seed-shape `ctx`: its own properties are `req`, `env`, `kv`, `waitUntil`,
 * `sse` and the accessor `request` (frozen, enumerable, as a plain object's would be); with
 * `misread`, the Request-like members report to it.
 */
function ctxClass(misread: ((what: string) => void) | undefined): CtxClass {
  class SeedCtx extends SeedCtxBase {
    readonly req: Ctx["req"];
    readonly env: Ctx["env"];
    readonly kv: Kv;
    readonly waitUntil: Ctx["waitUntil"];
    readonly sse: Ctx["sse"];

    constructor(wire: WireRequest, bytes: Uint8Array | undefined, parts: CallParts) {
      super(wire, bytes);
      this.req = Object.freeze(toFunctionRequest(wire, bytes));
      this.env = parts.env;
      this.kv = parts.kv;
      this.waitUntil = parts.waitUntil;
      this.sse = parts.sse;
      Object.defineProperty(this, "request", { get: requestGetter, enumerable: true });
      // Private fields stay writable: the request is still built at first use.
      Object.freeze(this);
    }
  }
  for (const name of misread ? REQUEST_MEMBERS : []) {
    Object.defineProperty(SeedCtx.prototype, name, {
      get() {
        misread!(name);
        return undefined;
      },
    });
  }
  Object.freeze(SeedCtx.prototype);
  return SeedCtx as unknown as CtxClass;
}

/** One class per `misread` (a sandbox has one), and one without: made once, not per request. */
const ctxClasses = new Map<((what: string) => void) | undefined, CtxClass>();

/**
 * The call of `route` for one request, ready to run in the request's context. Only the seed's
 * shape parses the body (throwing BadRequestError for what it cannot parse); the others get a
 * web `Request` over the bytes as received.
 */
export function prepareCall(
  route: RouteShape,
  wire: WireRequest,
  bytes: Uint8Array | undefined,
  parts: CallParts,
): () => unknown {
  const { env, kv, waitUntil } = parts;
  if (route.kind === "ctx") {
    let SeedCtx = ctxClasses.get(parts.misread);
    if (!SeedCtx) ctxClasses.set(parts.misread, SeedCtx = ctxClass(parts.misread));
    const ctx = new SeedCtx(wire, bytes, parts);
    return () => route.handler(ctx);
  }
  const params = Object.freeze({ ...wire.params });
  if (route.kind === "module") {
    const platform = Object.freeze({
      waitUntil,
      /** Workers' fail-open to an origin: a function has no origin behind it, so it does nothing. */
      passThroughOnException(): void {},
      kv,
      params,
    });
    if (wire.method === "SCHEDULED") {
      const at = Date.parse(wire.headers.find(([name]) => name === "x-scheduled-at")?.[1] ?? "");
      const event = Object.freeze({
        type: "scheduled",
        cron: route.cron,
        scheduledTime: Number.isNaN(at) ? Date.now() : at,
        /** The platform never retries a run, so there is nothing to turn off. */
        noRetry(): void {},
      });
      return () => route.scheduled!.call(route.target, event, env, platform);
    }
    const request = toWebRequest(wire, bytes);
    return () => route.fetch.call(route.target, request, env, platform);
  }
  // A scheduled run calls GET, as Vercel's cron does.
  const method = wire.method === "SCHEDULED" ? "GET" : wire.method;
  const handler = route.methods.get(method) ??
    (method === "HEAD" ? route.methods.get("GET") : undefined);
  if (!handler) {
    const allow = allowOf(route.methods);
    if (method === "OPTIONS") return () => ({ status: 204, headers: { allow } });
    return () => ({
      status: 405,
      headers: { allow },
      body: { error: `method ${method} is not allowed on ${wire.path}; it answers ${allow}` },
    });
  }
  const request = toWebRequest(wire, bytes, method);
  const ctx = Object.freeze({ params, env, kv, waitUntil });
  return () => handler(request, ctx);
}

/** The `Allow` header of a module's method handlers: HEAD with GET, OPTIONS always. */
function allowOf(methods: Map<string, Fn>): string {
  return METHODS.filter((method) =>
    methods.has(method) || (method === "HEAD" && methods.has("GET")) || method === "OPTIONS"
  ).join(", ");
}

/**
 * The `/v1` API's routes as data: each is declared once, with zod schemas for its path
 * parameters, query and JSON body. `defineRoute` registers it on a Hono router with validation
 * from those schemas (errors name the field, in the one JSON error format), and the registry
 * turns the same declarations into the OpenAPI 3.1 document served at `/v1/openapi.json`.
 */
import type { Context, Env, Hono } from "hono";
import { z } from "zod";
import { BODY_IDLE_TIMEOUT_MS, readJson } from "../runtime/invoke/body.ts";
import { invalid } from "../runtime/errors.ts";
import { MAX_API_QUERY_BYTES } from "./query_limit.ts";
import { ErrorBody } from "./responses.ts";

/** Largest JSON body of a route that sets no `maxBodyBytes`, in bytes. */
const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

/** One declared route. */
export interface ApiRoute<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
> {
  method: "get" | "post" | "put" | "delete";
  /** Hono syntax, relative to `/v1`: `/apps/:appId/deploy`. */
  path: string;
  summary: string;
  tag: string;
  params?: P;
  query?: Q;
  body?: B;
  /** A body `body` accepts, shown in the document (and sent by the contract tests). */
  bodyExample?: unknown;
  /** Largest JSON body, in bytes (413 past it, before reading the rest). */
  maxBodyBytes?: number;
  /**
   * Status → what it means, for the statuses particular to this route. The ones every route of
   * its kind can answer are added by the registry (see `commonResponses`).
   */
  responses: Record<number, string>;
  /** The JSON body of each 2xx answer but 204 (routes/responses.ts). */
  returns?: z.ZodType;
  /** A `text/event-stream` 200 instead: event name → the schema of its `data` JSON. */
  events?: Record<string, z.ZodType>;
  /** A 200 that is text of this media type instead of JSON. */
  contentType?: string;
  /** Served without an API key. */
  public?: boolean;
}

/** What a handler gets: the checked parameters, query and body. */
export interface Checked<P, Q, B> {
  params: P;
  query: Q;
  body: B;
}

/** The OpenAPI name of each tag and what its operations are about. */
const TAGS: Record<string, string> = {
  meta: "The API's own description and the handler types",
  apps: "Apps and their environments",
  deployments: "Deploying source files, listing deployments, rolling back",
  logs: "Runtime logs: pages and a live tail",
  variables: "Environment variables, write-only",
  keys: "Per-app API keys (admin key only)",
  "rate limits": "An app's request rate limits",
  schedules: "Cron jobs declared in code",
  kv: "An app's key-value store",
  metrics: "Requests, errors and latency over time",
};

/** The media type of a server-sent events stream. */
export const EVENT_STREAM = "text/event-stream";

/** Routes declared so far, for the document. */
export class OpenApiRegistry {
  readonly #routes: ApiRoute[] = [];

  /** Records a route's declaration. */
  add(route: ApiRoute): void {
    this.#routes.push(route);
  }

  /** The declared routes (method, `/v1` path). */
  get routes(): ReadonlyArray<ApiRoute> {
    return this.#routes;
  }

  /**
   * The OpenAPI 3.1 document of every declared route. Schemas with an `id` (routes/responses.ts)
   * are shown once under `components.schemas` and referenced from each operation.
   */
  document(): Record<string, unknown> {
    const schemas: Record<string, unknown> = {};
    const paths: Record<string, Record<string, unknown>> = {};
    for (const route of this.#routes) {
      const path = `/v1${route.path.replace(/:(\w+)/g, "{$1}")}`;
      paths[path] ??= {};
      paths[path][route.method] = operation(route, schemas);
    }
    jsonSchema(ErrorBody, "output", schemas);
    const tags = [...new Set(this.#routes.map((route) => route.tag))].sort();
    return {
      openapi: "3.1.0",
      info: {
        title: "Server functions platform API",
        version: "1",
        description: "Deploy functions, manage their environments, keys, KV and logs.",
      },
      servers: [{ url: "/", description: "the server this document is served from" }],
      tags: tags.map((name) => ({ name, description: TAGS[name] ?? `Operations on ${name}` })),
      components: {
        securitySchemes: {
          apiKey: {
            type: "http",
            scheme: "bearer",
            description: "The admin API key, or a per-app key (fnk_…) for its own app",
          },
        },
        schemas: Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a < b ? -1 : 1)),
      },
      security: [{ apiKey: [] }],
      paths,
    };
  }
}

/**
 * `schema` as JSON Schema (2020-12, which OpenAPI 3.1 uses): `input` for what a client sends,
 * `output` for what the server answers (objects closed to undocumented fields). Named schemas go
 * into `components` and are referenced.
 */
function jsonSchema(
  schema: z.ZodType,
  io: "input" | "output",
  components: Record<string, unknown>,
): Record<string, unknown> {
  const generated = z.toJSONSchema(schema, { io, unrepresentable: "any" });
  const text = JSON.stringify(generated).replaceAll('"#/$defs/', '"#/components/schemas/');
  const { $schema: _, $defs, id, ...rest } = JSON.parse(text) as Record<string, unknown>;
  for (const [name, def] of Object.entries(($defs ?? {}) as Record<string, object>)) {
    const { id: _id, ...body } = def as Record<string, unknown>;
    components[name] = body;
  }
  if (typeof id !== "string") return rest;
  components[id] = rest;
  return { $ref: `#/components/schemas/${id}` };
}

/** Path or query parameters from an object schema. */
function parameters(
  schema: z.ZodType | undefined,
  where: "path" | "query",
  components: Record<string, unknown>,
) {
  if (!schema) return [];
  const shape = jsonSchema(schema, "input", components) as {
    properties?: Record<string, Record<string, unknown>>;
    required?: string[];
  };
  return Object.entries(shape.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === "path" || (shape.required ?? []).includes(name),
    schema: property,
    ...(typeof property.description === "string" ? { description: property.description } : {}),
  }));
}

/**
 * The statuses every route of its kind can answer, beside its own: 404 on a host that is not the
 * platform's (routes/hosts.ts), 400 for a bad parameter or body, 413 and 408 while reading a
 * body, 401 without a valid key, 403 for a per-app key on another app, 503 when the store
 * (Redis) cannot be reached, 414 for a query string over MAX_API_QUERY_BYTES.
 */
function commonResponses(route: ApiRoute): Record<number, string> {
  const out: Record<number, string> = {
    404: "not the platform's host (only functions answer there)",
  };
  if (route.params || route.query || route.body) out[400] = "a bad parameter or body, named";
  if (route.body) {
    out[413] = `the body is over ${route.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES} bytes`;
    out[408] = `no byte of the body arrived for ${BODY_IDLE_TIMEOUT_MS / 1000} s`;
  }
  if (!route.public) {
    out[401] = "no API key, or one that matches none";
    if (route.path.includes(":appId")) out[403] = "a per-app key of another app";
    out[503] = "the store (Redis) cannot be reached right now; retry shortly";
    out[414] = `the query string is over ${MAX_API_QUERY_BYTES} bytes`;
  }
  return out;
}

function successContent(route: ApiRoute, status: number, components: Record<string, unknown>) {
  if (status === 204) return {};
  if (route.events) {
    const events = Object.fromEntries(
      Object.entries(route.events).map(([name, schema]) => [name, {
        ...(schema.description ? { description: schema.description } : {}),
        schema: jsonSchema(schema, "output", components),
      }]),
    );
    return {
      content: {
        [EVENT_STREAM]: {
          schema: { type: "string", description: "server-sent events; see x-events" },
          "x-events": events,
        },
      },
    };
  }
  if (route.contentType) {
    return { content: { [route.contentType]: { schema: { type: "string" } } } };
  }
  if (!route.returns) return {};
  return {
    content: { "application/json": { schema: jsonSchema(route.returns, "output", components) } },
  };
}

function operation(route: ApiRoute, components: Record<string, unknown>): Record<string, unknown> {
  const all = commonResponses(route);
  for (const [status, description] of Object.entries(route.responses)) {
    const common = all[Number(status)];
    // A route's own meaning comes first; a common one still applies (a 404 for another host).
    all[Number(status)] = common && Number(status) === 404
      ? `${description}; or ${common}`
      : description;
  }
  const responses: Record<string, unknown> = {};
  for (const status of Object.keys(all).map(Number).sort((a, b) => a - b)) {
    responses[status] = status >= 400
      ? {
        description: all[status],
        content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
      }
      : { description: all[status], ...successContent(route, status, components) };
  }
  return {
    summary: route.summary,
    tags: [route.tag],
    operationId: `${route.method}${route.path.replace(/[/:{}-]+(\w)/g, (_, c) => c.toUpperCase())}`,
    ...(route.public ? { security: [] } : {}),
    parameters: [
      ...parameters(route.params, "path", components),
      ...parameters(route.query, "query", components),
    ],
    ...(route.body
      ? {
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: jsonSchema(route.body, "input", components),
              ...(route.bodyExample === undefined ? {} : { example: route.bodyExample }),
            },
          },
        },
      }
      : {}),
    responses,
  };
}

/** Checks `value` against `schema`; refuses with 400 naming the field (the first problem). */
export function check<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const where = issue.path.length > 0 ? issue.path.map(String).join(".") : "";
  // Messages written in the schemas name their field already; generic ones get the path.
  const named = where && !issue.message.includes(String(issue.path[0]));
  throw invalid(named ? `${where}: ${issue.message}` : issue.message);
}

/** Registers `route` on `app` (and in `registry`), with validation from its schemas. */
export function defineRoute<
  E extends Env,
  P extends z.ZodType,
  Q extends z.ZodType,
  B extends z.ZodType,
>(
  app: Hono<E>,
  registry: OpenApiRegistry,
  route: ApiRoute<P, Q, B>,
  handler: (
    c: Context<E>,
    input: Checked<z.output<P>, z.output<Q>, z.output<B>>,
  ) => Response | Promise<Response>,
): void {
  registry.add(route as unknown as ApiRoute);
  app.on(route.method.toUpperCase(), route.path, async (c) => {
    const params = route.params ? check(route.params, c.req.param()) : {};
    const query = route.query ? check(route.query, c.req.query()) : {};
    const body = route.body
      ? check(route.body, await readJson(c.req.raw, route.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES))
      : undefined;
    return await handler(c, { params, query, body } as Checked<
      z.output<P>,
      z.output<Q>,
      z.output<B>
    >);
  });
}

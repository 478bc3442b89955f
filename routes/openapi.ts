/**
 * The `/v1` API's routes as data: each is declared once, with zod schemas for its path
 * parameters, query and JSON body. `defineRoute` registers it on a Hono router with validation
 * from those schemas (errors name the field, in the one JSON error format), and the registry
 * turns the same declarations into the OpenAPI 3.1 document served at `/v1/openapi.json`.
 */
import type { Context, Env, Hono } from "hono";
import { z } from "zod";
import { readJson } from "../runtime/invoke/body.ts";
import { invalid } from "../runtime/errors.ts";

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
  /** Largest JSON body, in bytes (413 past it, before reading the rest). */
  maxBodyBytes?: number;
  /** Status → what it means; 2xx first. */
  responses: Record<number, string>;
  /** Served without an API key. */
  public?: boolean;
}

/** What a handler gets: the checked parameters, query and body. */
export interface Checked<P, Q, B> {
  params: P;
  query: Q;
  body: B;
}

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

  /** The OpenAPI 3.1 document of every declared route. */
  document(): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const route of this.#routes) {
      const path = `/v1${route.path.replace(/:(\w+)/g, "{$1}")}`;
      paths[path] ??= {};
      paths[path][route.method] = operation(route);
    }
    return {
      openapi: "3.1.0",
      info: {
        title: "Server functions platform API",
        version: "1",
        description: "Deploy functions, manage their environments, keys, KV and logs.",
      },
      components: {
        securitySchemes: {
          apiKey: {
            type: "http",
            scheme: "bearer",
            description: "The admin API key, or a per-app key (fnk_…) for its own app",
          },
        },
        schemas: {
          Error: {
            type: "object",
            required: ["error"],
            properties: { error: { type: "string", description: "what was wrong, and where" } },
          },
        },
      },
      security: [{ apiKey: [] }],
      paths,
    };
  }
}

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });
  return rest;
}

/** Path or query parameters from an object schema. */
function parameters(schema: z.ZodType | undefined, where: "path" | "query") {
  if (!schema) return [];
  const shape = jsonSchema(schema) as {
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

function operation(route: ApiRoute): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  for (const [status, description] of Object.entries(route.responses)) {
    responses[status] = Number(status) >= 400
      ? {
        description,
        content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
      }
      : { description };
  }
  return {
    summary: route.summary,
    tags: [route.tag],
    operationId: `${route.method}${route.path.replace(/[/:{}-]+(\w)/g, (_, c) => c.toUpperCase())}`,
    ...(route.public ? { security: [] } : {}),
    parameters: [...parameters(route.params, "path"), ...parameters(route.query, "query")],
    ...(route.body
      ? {
        requestBody: {
          required: true,
          content: { "application/json": { schema: jsonSchema(route.body) } },
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
      ? check(route.body, await readJson(c.req.raw, route.maxBodyBytes ?? 64 * 1024))
      : undefined;
    return await handler(c, { params, query, body } as Checked<
      z.output<P>,
      z.output<Q>,
      z.output<B>
    >);
  });
}

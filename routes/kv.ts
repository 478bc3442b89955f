/**
 * The admin KV API, with the same keys, values and limits functions see:
 * `GET /v1/apps/:appId/kv?prefix=&cursor=&limit=` (a page of keys), and
 * `GET/PUT/DELETE /v1/apps/:appId/kv/:key` (GET answers the value and `expires_at`; PUT
 * `{ "value": "…", "ttl"?: seconds }`, where no ttl keeps an existing key's remaining expiry).
 */
import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { invalid, notFound } from "../runtime/errors.ts";
import {
  checkKey,
  checkValue,
  MAX_KEY_BYTES,
  MAX_LIST_LIMIT,
  runKvCall,
} from "../runtime/kv/calls.ts";
import { DEFAULT_TTL_SECONDS, type KvBackend } from "../runtime/kv/types.ts";
import type { AuthEnv } from "./auth.ts";
import { defineRoute, type OpenApiRegistry } from "./openapi.ts";
import { appId, appParams, pageLimit } from "./schemas.ts";
import * as bodies from "./responses.ts";

/** Largest PUT body, in bytes: a 1 MB value even if every character is JSON-escaped. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

const oneKey = z.object({
  appId,
  // The rule is checked where keys are (runtime/kv/calls.ts), with its message there.
  key: z.string().meta({
    minLength: 1,
    maxLength: MAX_KEY_BYTES,
    description: `the key, URL-encoded: at most ${MAX_KEY_BYTES} bytes of UTF-8`,
  }),
});
const listQuery = z.object({
  prefix: z.string().optional(),
  cursor: z.string().optional().describe("the cursor of the previous page"),
  limit: pageLimit(MAX_LIST_LIMIT),
});
const PUT_SHAPE = 'the body must be a JSON object like {"value": "...", "ttl": 3600}';
const putBody = z.object({
  // Both are checked where KV calls are (runtime/kv/calls.ts), with the messages functions get.
  value: z.unknown().refine((v) => v !== undefined, PUT_SHAPE)
    .meta({ type: "string", description: "at most 1 MB of UTF-8" }),
  ttl: z.unknown().optional().meta({
    anyOf: [{ type: "integer", minimum: 1 }, { type: "null" }],
    description:
      "seconds; omitted or null: an existing key keeps its remaining expiry, a new one gets 30 days",
  }),
}, { error: PUT_SHAPE });

/**
 * Refuses a key whose percent-escapes do not decode (`%zz`, a lone `%`, bytes that are not
 * UTF-8): the router would pass it on undecoded, and it would be stored as written.
 */
const wellFormedEscapes: MiddlewareHandler = async (c, next) => {
  const raw = new URL(c.req.url).pathname.split("/").at(-1) ?? "";
  try {
    decodeURIComponent(raw);
  } catch {
    throw invalid(
      `the key ${JSON.stringify(raw.slice(0, 100))} is not well URL-encoded: write each byte ` +
        "that is not a letter, digit or -._~ as %XX, the bytes of UTF-8",
    );
  }
  await next();
};

/** The KV router; mount under an authenticated `/v1`. */
export function kvRoutes(kv: KvBackend, registry: OpenApiRegistry): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>().use("/apps/:appId/kv/:key", wellFormedEscapes);
  const tag = "kv";
  defineRoute(app, registry, {
    method: "get",
    path: "/apps/:appId/kv",
    summary: "A page of an app's KV keys",
    tag,
    params: appParams,
    query: listQuery,
    responses: { 200: "keys, cursor, done", 400: "a bad parameter" },
    returns: bodies.KvPage,
  }, async (c, { params, query }) => {
    const options = {
      prefix: query.prefix ?? "",
      cursor: query.cursor ?? null,
      limit: query.limit,
    };
    return c.json(await runKvCall(kv, params.appId, "list", [options]));
  });
  defineRoute(app, registry, {
    method: "get",
    path: "/apps/:appId/kv/:key",
    summary: "One KV value",
    tag,
    params: oneKey,
    responses: { 200: "the key, its value and expires_at (ISO 8601)", 404: "no such key" },
    returns: bodies.KvEntry,
  }, async (c, { params }) => {
    const entry = await kv.entry(params.appId, checkKey("get", params.key));
    if (entry === null) {
      throw notFound(`app "${params.appId}" has no key ${JSON.stringify(params.key)}`);
    }
    return c.json({
      key: params.key,
      value: entry.value,
      expires_at: new Date(entry.expiresAt).toISOString(),
    });
  });
  defineRoute(app, registry, {
    method: "put",
    path: "/apps/:appId/kv/:key",
    summary: "Write a KV value",
    tag,
    params: oneKey,
    body: putBody,
    maxBodyBytes: MAX_BODY_BYTES,
    responses: {
      200: "written",
      400: "a bad key, value or ttl",
      413: "the app's KV quota is full",
    },
    returns: bodies.KvWritten,
  }, async (c, { params, body }) => {
    if (body.ttl === undefined || body.ttl === null) {
      const key = checkKey("set", params.key);
      await kv.setKeepingExpiry(params.appId, key, checkValue(body.value), DEFAULT_TTL_SECONDS);
    } else await runKvCall(kv, params.appId, "set", [params.key, body.value, { ttl: body.ttl }]);
    return c.json({ key: params.key });
  });
  defineRoute(app, registry, {
    method: "delete",
    path: "/apps/:appId/kv/:key",
    summary: "Delete a KV key",
    tag,
    params: oneKey,
    responses: { 204: "deleted" },
  }, async (c, { params }) => {
    await runKvCall(kv, params.appId, "del", [params.key]);
    return c.body(null, 204);
  });
  return app;
}

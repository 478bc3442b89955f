/** Zod schemas the `/v1` routes share: app ids, environments, pagination. */
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { check } from "./openapi.ts";
import { APP_ID, DEPLOYMENT_ID, ENVIRONMENT, KEY_ID } from "../runtime/ids.ts";

/** An app id path parameter (`:appId`). */
export const appId = z.string().regex(APP_ID, {
  error: (issue) =>
    `app id "${String(issue.input).slice(0, 64)}" is invalid: use 1-62 lower-case letters, ` +
    "digits and single hyphens, starting and ending with a letter or digit",
}).describe("an app id: lower-case letters, digits and single hyphens");

/** An environment name (`production`, `pr-42`). */
export const environment = z.string().regex(ENVIRONMENT, {
  error: (issue) =>
    `environment "${String(issue.input).slice(0, 64)}" is invalid: use 1-32 characters of ` +
    "a-z, 0-9 and -",
}).describe("an environment name: 1-32 characters of a-z, 0-9 and -");

/** `{ appId }`. */
export const appParams = z.object({ appId });
/** `{ appId, env }`. */
export const appEnvParams = z.object({ appId, env: environment });

/**
 * A whole number from 1 to `max` given as a query string (`name` in messages), documented as the
 * integer it stands for.
 */
export function pageLimit(max: number, name = "limit", description = `page size, 1 to ${max}`) {
  const message = `${name} must be an integer from 1 to ${max}`;
  return z.string().regex(/^\d+$/, message)
    .transform(Number)
    .refine((n) => n >= 1 && n <= max, message)
    // The document shows the integer a client sends, not the digits the server parses.
    .meta({ type: "integer", minimum: 1, maximum: max, pattern: undefined, description })
    .optional();
}

/**
 * An object of name → `value` from a JSON body, where any name is an ordinary name:
 * `constructor`, `__proto__` or `toString` included (zod's own record reads `constructor` off
 * the input, and assigning `__proto__` sets the prototype, so it is not used here). `shape`
 * is the message for a body that is not such an object; `entry(name)` the one for a bad value.
 * The result has a null prototype, so no inherited property reads as an entry.
 */
export function namedRecord<V extends z.ZodType>(
  value: V,
  messages: { shape: (input: unknown) => string; entry: (name: string) => string },
): z.ZodType<Record<string, z.output<V>>, Record<string, z.input<V>>> {
  return z.custom<Record<string, z.input<V>>>((input) => isJsonObject(input), {
    error: (issue) => messages.shape(issue.input),
  }).transform((input, ctx) => {
    const out = Object.create(null) as Record<string, z.output<V>>;
    for (const name of Object.keys(input)) {
      const result = value.safeParse(input[name]);
      if (!result.success) {
        ctx.addIssue({ code: "custom", message: messages.entry(name), path: [name] });
        return z.NEVER;
      }
      Object.defineProperty(out, name, {
        value: result.data,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }).meta({ type: "object", additionalProperties: valueSchema(value) });
}

function valueSchema(value: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(value, { io: "input", unrepresentable: "any" });
  return rest;
}

/** A plain JSON object (not null, not an array), whatever keys it has. */
function isJsonObject(input: unknown): input is Record<string, unknown> {
  return typeof input === "object" && input !== null && !Array.isArray(input);
}

/**
 * Checks the `:appId` and `:env` path parameters of every `/v1/apps/...` route once, before
 * authorization and the route itself: one rule and one message for each, whatever the route.
 */
export const checkAppParams: MiddlewareHandler = async (c, next) => {
  const params = c.req.param() as Record<string, string | undefined>;
  check(appId, params.appId);
  if (params.env !== undefined) check(environment, params.env);
  await next();
};

/** A deployment id path parameter. */
export const deploymentId = z.string().regex(DEPLOYMENT_ID, {
  error: (issue) =>
    `deployment id "${String(issue.input).slice(0, 64)}" is invalid: it looks like ` +
    "dpl_ and 24 hex digits",
}).describe("a deployment id: dpl_ and 24 hex digits");

/** A per-app API key id path parameter. */
export const keyId = z.string().regex(KEY_ID, {
  error: (issue) =>
    `API key id "${String(issue.input).slice(0, 64)}" is invalid: it looks like key_ and 24 ` +
    "hex digits",
}).describe("an API key id: key_ and 24 hex digits");

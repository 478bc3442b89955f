/** Zod schemas the `/v1` routes share: app ids, environments, pagination. */
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { check } from "./openapi.ts";
import { APP_ID, ENVIRONMENT } from "../runtime/ids.ts";

/** An app id path parameter (`:appId`). */
export const appId = z.string().refine((id) => APP_ID.test(id), {
  error: (issue) =>
    `app id "${String(issue.input).slice(0, 64)}" is invalid: use 1-62 lower-case letters, ` +
    "digits and single hyphens, starting and ending with a letter or digit",
}).describe("an app id: lower-case letters, digits and single hyphens");

/** An environment name (`production`, `pr-42`). */
export const environment = z.string().refine((name) => ENVIRONMENT.test(name), {
  error: (issue) =>
    `environment "${String(issue.input).slice(0, 64)}" is invalid: use 1-32 characters of ` +
    "a-z, 0-9 and -",
}).describe("an environment name: 1-32 characters of a-z, 0-9 and -");

/** `{ appId }`. */
export const appParams = z.object({ appId });
/** `{ appId, env }`. */
export const appEnvParams = z.object({ appId, env: environment });

/** A whole number from 1 to `max` given as a query string. */
export function pageLimit(max: number, name = "limit") {
  return z.string().regex(/^\d+$/, `${name} must be an integer from 1 to ${max}`)
    .transform(Number)
    .refine((n) => n >= 1 && n <= max, `${name} must be an integer from 1 to ${max}`)
    .optional()
    .describe(`page size, 1 to ${max}`);
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

/** Bearer-key authentication for the /v1 API. */
import { timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { HttpError } from "../runtime/errors.ts";

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** Compares two secrets in constant time (their SHA-256 digests, so length leaks nothing either). */
export async function secretsEqual(a: string, b: string): Promise<boolean> {
  return timingSafeEqual(await digest(a), await digest(b));
}

/** Requires `Authorization: Bearer <apiKey>`; answers 401 otherwise. */
export function requireApiKey(apiKey: string): MiddlewareHandler {
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = header.match(/^Bearer\s+(.+)$/i);
    if (!match) {
      throw new HttpError(401, "missing API key: send Authorization: Bearer <API key>");
    }
    if (!(await secretsEqual(match[1].trim(), apiKey))) {
      throw new HttpError(401, "invalid API key");
    }
    await next();
  };
}

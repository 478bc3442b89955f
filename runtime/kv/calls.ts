/** Checks a handler's `ctx.kv` call and runs it on the app's store: the one gate every KV call passes. */
import { PlatformError } from "../errors.ts";
import {
  DEFAULT_TTL_SECONDS,
  type KvBackend,
  type KvListPage,
  MAX_KV_REPLY_BYTES,
} from "./types.ts";

/** Longest key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 512;
/** Largest value, in UTF-8 bytes (1 MB). */
const MAX_VALUE_BYTES = 1024 * 1024;
/** Most keys `keys()` returns; an app with more pages through them with `list()`. */
const MAX_KEYS_RESULT = 1000;
/** Most keys one `getMany()` reads. */
const MAX_GET_MANY = 100;
/** Most keys one `list()` page holds, and its default size. */
export const MAX_LIST_LIMIT = 1000;
const DEFAULT_LIST_LIMIT = 100;

const encoder = new TextEncoder();

/**
 * A size of `text` to compare with `limit`: its exact UTF-8 size when it may be over, and at
 * most `limit` when it cannot be. A UTF-16 unit takes at most 3 bytes, so a text of up to a
 * third of the limit in units is within it without being encoded (most keys and values: no
 * allocation on the hot path).
 */
function utf8Size(text: string, limit: number): number {
  return text.length * 3 <= limit ? text.length : encoder.encode(text).length;
}

/** A refused `ctx.kv` call (`invalid`); its message reaches the handler as the rejection. */
export class KvCallError extends PlatformError {
  constructor(message: string) {
    super("invalid", message);
    this.name = "KvCallError";
  }
}

/** A key as `kv.<op>` accepts it (a non-empty, well-formed string of at most 512 UTF-8 bytes). */
export function checkKey(op: string, key: unknown): string {
  if (typeof key !== "string") throw new KvCallError(`kv.${op}: key must be a string`);
  if (key.length === 0) throw new KvCallError(`kv.${op}: key must not be empty`);
  if (!key.isWellFormed()) {
    throw new KvCallError(
      `kv.${op}: key is not valid Unicode (it holds a lone surrogate), so it has no exact UTF-8 form`,
    );
  }
  const bytes = utf8Size(key, MAX_KEY_BYTES);
  if (bytes > MAX_KEY_BYTES) {
    throw new KvCallError(`kv.${op}: key is ${bytes} bytes; the limit is ${MAX_KEY_BYTES}`);
  }
  return key;
}

/** A value as `kv.set` accepts it (a well-formed string of at most 1 MB of UTF-8). */
export function checkValue(value: unknown): string {
  if (typeof value !== "string") throw new KvCallError("kv.set: value must be a string");
  if (!value.isWellFormed()) {
    throw new KvCallError(
      "kv.set: value is not valid Unicode (it holds a lone surrogate), so it cannot come back exactly",
    );
  }
  const bytes = utf8Size(value, MAX_VALUE_BYTES);
  if (bytes > MAX_VALUE_BYTES) {
    throw new KvCallError(
      `kv.set: value is ${bytes} bytes; the limit is ${MAX_VALUE_BYTES} (1 MB)`,
    );
  }
  return value;
}

function checkTtl(ttl: unknown): number {
  // Arguments cross as JSON: an undefined argument arrives as null.
  if (ttl === undefined || ttl === null) return DEFAULT_TTL_SECONDS;
  if (typeof ttl !== "number" || !Number.isSafeInteger(ttl) || ttl <= 0) {
    throw new KvCallError(
      `kv.set: ttl must be a positive whole number of seconds, got ${String(ttl)}`,
    );
  }
  return ttl;
}

/** Runs `kv.<op>(...args)` for `appId`; throws KvCallError for bad arguments, before any write. */
export async function runKvCall(
  kv: KvBackend,
  appId: string,
  op: string,
  args: unknown[],
): Promise<unknown> {
  switch (op) {
    case "get":
      return await kv.get(appId, checkKey("get", args[0]));
    case "set": {
      const key = checkKey("set", args[0]);
      const value = checkValue(args[1]);
      const options = args[2];
      if (typeof options !== "object" || options === null) {
        await kv.set(appId, key, value, checkTtl(options));
        return undefined;
      }
      const { ttl, ifEquals } = options as { ttl?: unknown; ifEquals?: unknown };
      if (!("ifEquals" in options)) {
        await kv.set(appId, key, value, checkTtl(ttl));
        return undefined;
      }
      if (ifEquals !== null && typeof ifEquals !== "string") {
        throw new KvCallError("kv.set: ifEquals must be the expected value (a string), or null");
      }
      return await kv.setIf(appId, key, value, checkTtl(ttl), ifEquals);
    }
    case "incr": {
      const key = checkKey("incr", args[0]);
      const by = args[1] ?? 1;
      if (typeof by !== "number" || !Number.isSafeInteger(by)) {
        throw new KvCallError("kv.incr: by must be a whole number");
      }
      return await kv.incr(appId, key, by, DEFAULT_TTL_SECONDS);
    }
    case "getMany": {
      const keys = args[0];
      if (!Array.isArray(keys) || keys.length > MAX_GET_MANY) {
        throw new KvCallError(`kv.getMany: keys must be an array of at most ${MAX_GET_MANY} keys`);
      }
      const checked = keys.map((key) => checkKey("getMany", key));
      return await kv.getMany(appId, checked, MAX_KV_REPLY_BYTES);
    }
    case "del":
      await kv.del(appId, checkKey("del", args[0]));
      return undefined;
    case "keys": {
      const page = await kv.list(appId, { prefix: "", cursor: null, limit: MAX_KEYS_RESULT });
      if (!page.done) {
        throw new KvCallError(
          `kv.keys: this app has more than ${MAX_KEYS_RESULT} keys; page through them with ` +
            "kv.list({ prefix, cursor, limit })",
        );
      }
      return page.keys;
    }
    case "list":
      return await list(kv, appId, args[0]);
    default:
      throw new KvCallError(`kv.${op} is not a KV method`);
  }
}

/** `kv.list(options?)`: one page of keys, checked options. */
function list(kv: KvBackend, appId: string, options: unknown): Promise<KvListPage> {
  const { prefix = "", cursor = null, limit = DEFAULT_LIST_LIMIT } = (options ?? {}) as Record<
    string,
    unknown
  >;
  if (typeof options !== "object" && options !== undefined) {
    throw new KvCallError("kv.list: options must be an object like { prefix, cursor, limit }");
  }
  if (typeof prefix !== "string" || !prefix.isWellFormed()) {
    throw new KvCallError("kv.list: prefix must be a string of valid Unicode");
  }
  if (cursor !== null && (typeof cursor !== "string" || !cursor.isWellFormed())) {
    throw new KvCallError("kv.list: cursor must be the cursor of the previous page, or null");
  }
  if (
    typeof limit !== "number" || !Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT
  ) {
    throw new KvCallError(`kv.list: limit must be a whole number from 1 to ${MAX_LIST_LIMIT}`);
  }
  return kv.list(appId, { prefix, cursor, limit });
}

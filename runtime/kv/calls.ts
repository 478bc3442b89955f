/** Checks a handler's `ctx.kv` call and runs it on the app's store: the one gate every KV call passes. */
import { DEFAULT_TTL_SECONDS, type KvBackend } from "./types.ts";

/** Longest key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 512;
/** Largest value, in UTF-8 bytes (1 MB). */
export const MAX_VALUE_BYTES = 1024 * 1024;

const encoder = new TextEncoder();

/** A refused `ctx.kv` call; its message reaches the handler as the rejection. */
export class KvCallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KvCallError";
  }
}

function checkKey(op: string, key: unknown): string {
  if (typeof key !== "string") throw new KvCallError(`kv.${op}: key must be a string`);
  if (key.length === 0) throw new KvCallError(`kv.${op}: key must not be empty`);
  const bytes = encoder.encode(key).length;
  if (bytes > MAX_KEY_BYTES) {
    throw new KvCallError(`kv.${op}: key is ${bytes} bytes; the limit is ${MAX_KEY_BYTES}`);
  }
  return key;
}

function checkValue(value: unknown): string {
  if (typeof value !== "string") throw new KvCallError("kv.set: value must be a string");
  const bytes = encoder.encode(value).length;
  if (bytes > MAX_VALUE_BYTES) {
    throw new KvCallError(
      `kv.set: value is ${bytes} bytes; the limit is ${MAX_VALUE_BYTES} (1 MB)`,
    );
  }
  return value;
}

function checkTtl(ttl: unknown): number {
  if (ttl === undefined) return DEFAULT_TTL_SECONDS;
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
      await kv.set(appId, key, value, checkTtl(args[2]));
      return undefined;
    }
    case "del":
      await kv.del(appId, checkKey("del", args[0]));
      return undefined;
    case "keys":
      return await kv.keys(appId);
    default:
      throw new KvCallError(`kv.${op} is not a KV method`);
  }
}

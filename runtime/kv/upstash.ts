/**
 * The Redis KvBackend, over the Upstash REST protocol (`@upstash/redis`). An app's value of
 * `key` lives at `kv:<appId>:<key>`; app ids cannot contain `:` or glob characters, so one app's
 * prefix never matches another's keys. Beside the values, each app has `kvmeta:<appId>` (a hash
 * of every key's size, and the `#keys` and `#bytes` totals), `kvexp:<appId>` (keys by expiry
 * time) and `kvlex:<appId>` (keys in byte order, for listing). Writes, deletes and lists run as
 * Lua scripts, so the quota and the indexes change atomically with the value; keys that Redis
 * expired are swept from the indexes by the next script of their app.
 */
import type { Redis } from "@upstash/redis";
import { whenReachable } from "../platform/redis.ts";
import {
  type KvBackend,
  type KvEntry,
  type KvListOptions,
  type KvListPage,
  type KvQuota,
  KvQuotaError,
  KvReplyError,
  KvTypeError,
  quotaMessage,
} from "./types.ts";

/** Expired keys swept from an app's indexes per script run. */
const SWEEP = 100;

/** KEYS: meta, expiries, lex. ARGV: now ms, value prefix. Removes expired keys' bookkeeping. */
const SWEEP_LUA = `
local function sweep(meta, exp, lex, now, prefix)
  local gone = redis.call('ZRANGEBYSCORE', exp, '-inf', now, 'LIMIT', 0, ${SWEEP})
  for _, k in ipairs(gone) do
    if redis.call('EXISTS', prefix .. k) == 0 then
      local size = tonumber(redis.call('HGET', meta, 's:' .. k) or '0')
      redis.call('HDEL', meta, 's:' .. k)
      redis.call('HINCRBY', meta, '#keys', -1)
      redis.call('HINCRBY', meta, '#bytes', -size)
      redis.call('ZREM', exp, k)
      redis.call('ZREM', lex, k)
    end
  end
end
`;

/**
 * Writes a value with its bookkeeping, or answers which quota it would break. KEYS: value, meta,
 * expiries, lex; ARGV[1] key, ARGV[4] now ms, ARGV[5] max keys, ARGV[6] max bytes.
 */
const PUT_LUA = `${SWEEP_LUA}
local function put(value, ttlms)
  local old = redis.call('HGET', KEYS[2], 's:' .. ARGV[1])
  local size = string.len(ARGV[1]) + string.len(value)
  local keys = tonumber(redis.call('HGET', KEYS[2], '#keys') or '0')
  local bytes = tonumber(redis.call('HGET', KEYS[2], '#bytes') or '0')
  if not old then keys = keys + 1 end
  bytes = bytes - tonumber(old or '0') + size
  if not old and keys > tonumber(ARGV[5]) then return {'keys', keys - 1} end
  if bytes > tonumber(ARGV[6]) and size > tonumber(old or '0') then return {'bytes', bytes} end
  redis.call('SET', KEYS[1], value, 'PX', ttlms)
  redis.call('HSET', KEYS[2], 's:' .. ARGV[1], size, '#keys', keys, '#bytes', bytes)
  redis.call('ZADD', KEYS[3], tonumber(ARGV[4]) + ttlms, ARGV[1])
  redis.call('ZADD', KEYS[4], 0, ARGV[1])
  return {'ok', 0}
end
sweep(KEYS[2], KEYS[3], KEYS[4], ARGV[4], ARGV[7])
`;

/** ARGV: key, value, ttl s, now ms, max keys, max bytes, prefix. */
const SET_LUA = `${PUT_LUA}
return put(ARGV[2], tonumber(ARGV[3]) * 1000)
`;

/** ARGV: key, value, ttl s, now ms, max keys, max bytes, prefix. Keeps a live key's expiry. */
const SET_KEEPING_EXPIRY_LUA = `${PUT_LUA}
local ttlms = tonumber(ARGV[3]) * 1000
local left = redis.call('PTTL', KEYS[1])
if left > 0 then ttlms = left end
return put(ARGV[2], ttlms)
`;

/** KEYS: value. Answers the value and its remaining time to live in ms (PTTL), or nil. */
const ENTRY_LUA = `
local value = redis.call('GET', KEYS[1])
if not value then return nil end
return {value, redis.call('PTTL', KEYS[1])}
`;

/** ARGV: key, value, ttl s, now ms, max keys, max bytes, prefix, mode ('absent'|'equals'), expected. */
const SET_IF_LUA = `${PUT_LUA}
local current = redis.call('GET', KEYS[1])
if ARGV[8] == 'absent' then
  if current then return {'unchanged', 0} end
elseif current ~= ARGV[9] then
  return {'unchanged', 0}
end
return put(ARGV[2], tonumber(ARGV[3]) * 1000)
`;

/** ARGV: key, by, ttl s, now ms, max keys, max bytes, prefix. Answers {'ok', n} or a refusal. */
const INCR_LUA = `${PUT_LUA}
local current = redis.call('GET', KEYS[1])
local n = 0
local ttlms = tonumber(ARGV[3]) * 1000
if current then
  if not string.match(current, '^%-?%d+$') or string.len(current) > 17 then return {'type', 0} end
  n = tonumber(current)
  local left = redis.call('PTTL', KEYS[1])
  if left > 0 then ttlms = left end
end
n = n + tonumber(ARGV[2])
if n > 9007199254740991 or n < -9007199254740991 then return {'range', 0} end
local text = string.format('%.0f', n)
local outcome = put(text, ttlms)
if outcome[1] ~= 'ok' then return outcome end
return {'ok', text}
`;

/** KEYS: value, meta, expiries, lex. ARGV: key. */
const DEL_LUA = `
local size = redis.call('HGET', KEYS[2], 's:' .. ARGV[1])
redis.call('DEL', KEYS[1])
if size then
  redis.call('HDEL', KEYS[2], 's:' .. ARGV[1])
  redis.call('HINCRBY', KEYS[2], '#keys', -1)
  redis.call('HINCRBY', KEYS[2], '#bytes', -tonumber(size))
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[1])
end
return 0
`;

/**
 * KEYS: meta, expiries, lex. ARGV: now ms, prefix of values, key prefix, cursor ('' for none),
 * limit. Returns up to limit + 1 unexpired keys after the cursor that start with the prefix.
 */
const LIST_LUA = `${SWEEP_LUA}
sweep(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2])
local start = ARGV[4] ~= '' and ('(' .. ARGV[4]) or ('[' .. ARGV[3])
local stop = '[' .. ARGV[3] .. '\\255'
local want = tonumber(ARGV[5]) + 1
local out = {}
while #out < want do
  local batch = redis.call('ZRANGEBYLEX', KEYS[3], start, stop, 'LIMIT', 0, want)
  if #batch == 0 then break end
  for _, k in ipairs(batch) do
    local expires = tonumber(redis.call('ZSCORE', KEYS[2], k) or '0')
    if expires > tonumber(ARGV[1]) and #out < want then out[#out + 1] = k end
    start = '(' .. k
  end
end
return out
`;

/**
 * KEYS: values. ARGV: most bytes. Sums the values' lengths (STRLEN reads no value) and answers
 * {1, values} when they fit, or {0, keys counted, bytes} as soon as they pass the budget.
 */
const GET_MANY_LUA = `
local total = 0
local max = tonumber(ARGV[1])
for i, k in ipairs(KEYS) do
  total = total + redis.call('STRLEN', k)
  if total > max then return {0, i, total} end
end
return {1, redis.call('MGET', unpack(KEYS))}
`;

/** A KvBackend on Redis through the Upstash REST API. */
export class UpstashKv implements KvBackend {
  readonly #redis: Redis;
  readonly #quota: KvQuota;

  /** Uses a client from runtime/platform/redis.ts (strings as stored, short timeouts). */
  constructor(redis: Redis, quota: KvQuota) {
    this.#redis = redis;
    this.#quota = quota;
  }

  get(appId: string, key: string): Promise<string | null> {
    return this.#call(() => this.#redis.get<string>(valueKey(appId, key)));
  }

  async set(appId: string, key: string, value: string, ttlSeconds: number): Promise<void> {
    await this.#write(SET_LUA, appId, key, [value, String(ttlSeconds)]);
  }

  async setKeepingExpiry(
    appId: string,
    key: string,
    value: string,
    ttlSeconds: number,
  ): Promise<void> {
    await this.#write(SET_KEEPING_EXPIRY_LUA, appId, key, [value, String(ttlSeconds)]);
  }

  async entry(appId: string, key: string): Promise<KvEntry | null> {
    const now = Date.now();
    const found = await this.#call(() =>
      this.#redis.eval(ENTRY_LUA, [valueKey(appId, key)], []) as Promise<
        [string, number] | null
      >
    );
    if (!found) return null;
    const [value, leftMs] = found;
    // Every value is written with PX, so PTTL is positive while the key exists.
    return { value, expiresAt: now + Number(leftMs) };
  }

  async setIf(
    appId: string,
    key: string,
    value: string,
    ttlSeconds: number,
    expected: string | null,
  ): Promise<boolean> {
    const mode = expected === null ? ["absent", ""] : ["equals", expected];
    const [outcome] = await this.#write(SET_IF_LUA, appId, key, [value, String(ttlSeconds)], mode);
    return outcome === "ok";
  }

  async incr(appId: string, key: string, by: number, ttlSeconds: number): Promise<number> {
    const [outcome, value] = await this.#write(INCR_LUA, appId, key, [
      String(by),
      String(ttlSeconds),
    ]);
    if (outcome === "type") {
      throw new KvTypeError(`kv.incr: the value of "${key.slice(0, 64)}" is not an integer`);
    }
    if (outcome === "range") {
      throw new KvTypeError("kv.incr: the result would not be a safe integer");
    }
    return Number(value);
  }

  async getMany(appId: string, keys: string[], maxBytes: number): Promise<Array<string | null>> {
    if (keys.length === 0) return [];
    const answer = await this.#call(() =>
      this.#redis.eval(
        GET_MANY_LUA,
        keys.map((key) => valueKey(appId, key)),
        [String(maxBytes)],
      ) as Promise<[1, Array<string | null>] | [0, number, number]>
    );
    if (answer[0] === 0) throw new KvReplyError("getMany", answer[1], answer[2], maxBytes);
    return answer[1];
  }

  /** Runs a writing script: ARGV is key, `args` (value or by, ttl), now, quota, prefix, `extra`. */
  async #write(
    script: string,
    appId: string,
    key: string,
    args: [string, string],
    extra: string[] = [],
  ): Promise<[string, string | number]> {
    const answer = await this.#call(() =>
      this.#redis.eval(script, [valueKey(appId, key), ...indexKeys(appId)], [
        key,
        ...args,
        String(Date.now()),
        String(this.#quota.maxKeys),
        String(this.#quota.maxBytes),
        valueKey(appId, ""),
        ...extra,
      ]) as Promise<[string, string | number]>
    );
    const [outcome, figure] = answer;
    if (outcome === "keys" || outcome === "bytes") {
      throw new KvQuotaError(quotaMessage(outcome, this.#quota, Number(figure)));
    }
    return answer;
  }

  async del(appId: string, key: string): Promise<void> {
    await this.#call(() =>
      this.#redis.eval(DEL_LUA, [valueKey(appId, key), ...indexKeys(appId)], [key])
    );
  }

  async list(appId: string, options: KvListOptions): Promise<KvListPage> {
    const found = await this.#call(() =>
      this.#redis.eval(LIST_LUA, indexKeys(appId), [
        String(Date.now()),
        valueKey(appId, ""),
        options.prefix,
        options.cursor ?? "",
        String(options.limit),
      ]) as Promise<string[]>
    );
    const done = found.length <= options.limit;
    const keys = found.slice(0, options.limit);
    return { keys, cursor: done ? null : keys[keys.length - 1]!, done };
  }

  async ping(): Promise<void> {
    await this.#call(() => this.#redis.ping());
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  #call<T>(operation: () => Promise<T>): Promise<T> {
    return whenReachable(operation, "the KV store");
  }
}

function valueKey(appId: string, key: string): string {
  return `kv:${appId}:${key}`;
}

function indexKeys(appId: string): [string, string, string] {
  return [`kvmeta:${appId}`, `kvexp:${appId}`, `kvlex:${appId}`];
}

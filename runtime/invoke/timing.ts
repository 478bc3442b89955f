/**
 * Where one function request spent its time, sent as `Server-Timing`: total, queueing (waiting
 * for a sandbox slot), sandbox (starting the deployment in a process, on a cold start), handler
 * (the code itself, round trip), and KV and fetch calls with their count. Durations in ms.
 * Queueing and start-up tell of other apps (how busy the slots are, who was evicted), so only a
 * request carrying its app's key or the admin key sees them; others get `total` and `handler`.
 */
import type { ApiKeys } from "../auth/keys.ts";

/** The header a caller may send its app's key (or the admin key) in, to see every figure. */
export const TIMING_KEY_HEADER = "x-platform-key";

/**
 * Whether `request` carries the key of `appId` or the admin key in `X-Platform-Key`, or the
 * app's key as `Authorization: Bearer fnk_…`: then its `Server-Timing` has every figure. Never
 * rejects; a request with nothing shaped like a key (a function's own bearer tokens) costs no
 * lookup and is answered at once (false, not a promise).
 */
export function seesQueueFigures(
  request: Request,
  appId: string,
  keys: ApiKeys,
): Promise<boolean> | false {
  const bearer = request.headers.get("authorization")?.match(/^Bearer\s+(fnk_\S+)$/i)?.[1];
  const key = request.headers.get(TIMING_KEY_HEADER) ?? bearer;
  if (!key) return false;
  return keyMatches(key, appId, keys);
}

async function keyMatches(key: string, appId: string, keys: ApiKeys): Promise<boolean> {
  try {
    const principal = await keys.authenticate(key.trim());
    return principal !== null && (principal.kind === "admin" || principal.appId === appId);
  } catch {
    return false;
  }
}

/** The time of one invocation, filled as it runs. */
export class RequestTiming {
  /** When the request started, in performance.now() ms. */
  readonly #started: number;
  /** Waiting for a sandbox slot, in ms. */
  queueMs = 0;
  /** Starting the deployment in a sandbox (0 when one was already serving it), in ms. */
  sandboxMs = 0;
  /** The handler's round trip, in ms. */
  handlerMs = 0;
  readonly kv = { count: 0, ms: 0 };
  readonly fetch = { count: 0, ms: 0 };

  /** `started`: when the request started (performance.now() ms), now unless given. */
  constructor(started = performance.now()) {
    this.#started = started;
  }

  /** Runs `call`, adding its duration to `bucket`. */
  async measure<T>(bucket: { count: number; ms: number }, call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    bucket.count++;
    try {
      return await call();
    } finally {
      bucket.ms += performance.now() - started;
    }
  }

  /**
   * The `Server-Timing` header value; `detailed` (the caller holds the app's or the admin key)
   * adds queueing, start-up, and the KV and fetch calls. `now`: the time it is sent at
   * (performance.now() ms), read now unless given.
   */
  header(detailed: boolean, now = performance.now()): string {
    const ms = (value: number) => value.toFixed(2);
    const total = `total;dur=${ms(now - this.#started)}`;
    const handler = `handler;dur=${ms(this.handlerMs)}`;
    if (!detailed) return `${total}, ${handler}`;
    return [
      total,
      `queue;dur=${ms(this.queueMs)}`,
      `sandbox;dur=${ms(this.sandboxMs)}`,
      handler,
      `kv;dur=${ms(this.kv.ms)};desc="${this.kv.count} calls"`,
      `fetch;dur=${ms(this.fetch.ms)};desc="${this.fetch.count} calls"`,
    ].join(", ");
  }
}

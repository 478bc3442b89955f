/**
 * The host's main thread serves every app; what an app's KV and fetch calls make it do is
 * bounded per window: while other apps are being served, one app's calls may take at most
 * `perAppMs` of it, and all apps' calls `totalMs` (an app that has used under a tenth of its own
 * share is never held back by the total, so a light app does not wait out the heavy ones). An
 * app alone on the host may use all of it: the shares hold only what others would wait for.
 * "Others are served" means other apps hold sandbox slots (requests, streams, waitUntil work,
 * cron runs). Past a share, the app's next calls wait for the next window; nothing is refused.
 * What a call costs is charged by its kind: kv/turns.ts measures a KV call; a fetch, whose work
 * is spread over the event loop and cannot be measured, is charged FETCH_COST_MS and
 * FETCH_BYTE_COST_MS per byte of its response body.
 */

/**
 * What one outbound fetch is charged, in ms: the host's main thread spent about 0.39 ms a fetch
 * (Deno's fetch, its streams, the egress checks and the fetch's frames) when one app's fetches
 * to a fast upstream filled it, on the machine this was measured on; a faster one spends less.
 */
export const FETCH_COST_MS = 0.3;
/** What each byte of a fetched body is charged, in ms (1.5 ms a MB: reads, frames, the window). */
export const FETCH_BYTE_COST_MS = 1.5 / (1024 * 1024);

/** Under this part of its own share, an app's calls do not wait for the total's room. */
const LIGHT_SHARE = 0.1;

/** The shares, the window and who else is served. */
export interface HostTimeShares {
  /** Host time one app's calls may take per window, in ms. */
  perAppMs: number;
  /** Host time all apps' calls may take per window, in ms. */
  totalMs: number;
  /** The window, in ms. */
  windowMs: number;
  /** Whether apps other than `appId` are being served now (the shares hold only then). */
  othersActive(appId: string): boolean;
  /** Told when an app's call waits for the next window, and why; for its log. */
  onWait(appId: string, why: string): void;
  /** The clock, in ms (performance.now unless a test gives its own). */
  now?: () => number;
}

/** Per-app and total host time of calls, per window (see the module's comment). */
export class HostTime {
  readonly #shares: HostTimeShares;
  readonly #now: () => number;
  /** Host time each app's calls took in this window, in ms (cleared as a window starts). */
  readonly #used = new Map<string, number>();
  #usedTotal = 0;
  /** When this window started, in `#now()` ms. */
  #windowStart: number;
  /** Resolves when the next window starts; one for every call waiting for it. */
  #nextWindow: Promise<void> | null = null;

  constructor(shares: HostTimeShares) {
    this.#shares = shares;
    this.#now = shares.now ?? (() => performance.now());
    this.#windowStart = this.#now();
  }

  /**
   * Runs `work` once `appId` has room in its shares, and charges the app `cost(ms)`, given the
   * time `work` took to return. The last check and `work` run in one synchronous step, so calls
   * that waited together still pass one at a time. A waiting call is told of once.
   */
  async run<T>(appId: string, work: () => T, cost: (ms: number) => number): Promise<Awaited<T>> {
    let told = false;
    for (let why = this.#overShare(appId); why !== null; why = this.#overShare(appId)) {
      if (!told) this.#shares.onWait(appId, why);
      told = true;
      await this.#windowStarts();
    }
    const started = this.#now();
    const result = work();
    this.charge(appId, cost(this.#now() - started));
    return await result;
  }

  /** Adds `ms` of host time to what the app's calls took in this window. */
  charge(appId: string, ms: number): void {
    this.#roll();
    this.#used.set(appId, (this.#used.get(appId) ?? 0) + ms);
    this.#usedTotal += ms;
  }

  /** Starts a new window once the current one has passed. */
  #roll(): void {
    const now = this.#now();
    if (now - this.#windowStart >= this.#shares.windowMs) {
      this.#windowStart = now;
      this.#used.clear();
      this.#usedTotal = 0;
    }
  }

  /** Why the app's next call must wait for the next window, or null when it may run now. */
  #overShare(appId: string): string | null {
    this.#roll();
    const used = this.#used.get(appId) ?? 0;
    const { perAppMs, totalMs, windowMs } = this.#shares;
    if (used < perAppMs * LIGHT_SHARE || !this.#shares.othersActive(appId)) return null;
    if (used >= perAppMs) {
      return `its KV and fetch calls took ${used.toFixed(0)} ms of the host's time within ` +
        `${windowMs} ms, its share (APP_HOST_CALLS_PERCENT) while other apps are served; its ` +
        "next calls wait for the next window";
    }
    if (this.#usedTotal >= totalMs) {
      return `all apps' KV and fetch calls took ${this.#usedTotal.toFixed(0)} ms of the host's ` +
        `time within ${windowMs} ms, their share (HOST_CALLS_PERCENT); this app's next calls ` +
        "wait for the next window";
    }
    return null;
  }

  #windowStarts(): Promise<void> {
    this.#nextWindow ??= new Promise<void>((resolve) =>
      setTimeout(() => {
        this.#nextWindow = null;
        resolve();
      }, Math.max(1, Math.ceil(this.#windowStart + this.#shares.windowMs - this.#now())))
    );
    return this.#nextWindow;
  }
}

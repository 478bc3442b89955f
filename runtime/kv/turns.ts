/**
 * When the host works on an app's KV calls. Two bounds:
 * - Turns: at most `perApp` calls of one app at once. Each may build a reply of up to 3 MB
 *   (MAX_KV_REPLY_BYTES) before it is sent, so an app with hundreds of calls in flight would have
 *   the host hold hundreds of them.
 * - Host time: the embedded store runs on the host's main thread, which serves every app, so
 *   while other apps are being served an app's KV calls may take at most `perAppMs` of it per
 *   window, and all apps' calls `totalMs` (an app that has used under a tenth of its own share
 *   is never held back by the total, so a light app does not wait out the heavy ones). An app
 *   alone on the host may use all of it: the shares hold only what others would wait for.
 *   "Others are served" means other apps hold sandbox slots (requests, streams, waitUntil work,
 *   cron runs). A call is charged the time its store call took to return (the embedded store's
 *   statements run then) and its reply's encoding (`charge`, by the sandbox), measured, plus
 *   CALL_COST_MS for decoding it and its turn; past a share, calls wait for the next window.
 *   Not charged: decoding a large argument beyond CALL_COST_MS, and the COMMIT that an event-loop
 *   iteration's writes share.
 * Nothing is refused: an app's calls stay correct, only slower.
 */

/** What one call is charged beyond what is measured: decoding its frame, and its turn (5 µs). */
export const CALL_COST_MS = 0.005;
/** Under this part of its own share, an app's calls do not wait for the total's room. */
const LIGHT_SHARE = 0.1;

/** The host-time bounds of KV calls. */
export interface KvHostTime {
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

/** Turns and host time per app (see the module's comment). */
export class KvTurns {
  readonly #perApp: number;
  readonly #time: KvHostTime;
  readonly #now: () => number;
  readonly #running = new Map<string, number>();
  readonly #waiting = new Map<string, Array<() => void>>();
  /** Host time each app's calls took in this window, in ms (cleared as a window starts). */
  readonly #used = new Map<string, number>();
  #usedTotal = 0;
  /** When this window started, in `#now()` ms. */
  #windowStart: number;
  /** Resolves when the next window starts; one for every call waiting for it. */
  #nextWindow: Promise<void> | null = null;

  /** `perApp`: calls of one app at once; `time`: the host-time shares. */
  constructor(perApp: number, time: KvHostTime) {
    this.#perApp = perApp;
    this.#time = time;
    this.#now = time.now ?? (() => performance.now());
    this.#windowStart = this.#now();
  }

  /**
   * Runs `work` once the app has a turn and room in its share; the turn is given back when it
   * settles. The share is checked after the turn is taken, so a burst queued for turns cannot
   * pass it together: each call is checked against every call that ran before it.
   */
  async run<T>(appId: string, work: () => Promise<T>): Promise<T> {
    const running = this.#running.get(appId) ?? 0;
    if (running >= this.#perApp) {
      await new Promise<void>((resolve) => {
        let queue = this.#waiting.get(appId);
        if (!queue) this.#waiting.set(appId, queue = []);
        queue.push(resolve);
      });
    } else this.#running.set(appId, running + 1);
    try {
      let told = false;
      for (let why = this.#overShare(appId); why !== null; why = this.#overShare(appId)) {
        if (!told) this.#time.onWait(appId, why);
        told = true;
        await this.#windowStarts();
      }
      const started = this.#now();
      const result = work();
      this.charge(appId, this.#now() - started + CALL_COST_MS);
      return await result;
    } finally {
      this.#next(appId);
    }
  }

  /** Adds `ms` of host time to what the app's KV calls took in this window (a reply's encoding). */
  charge(appId: string, ms: number): void {
    this.#used.set(appId, (this.#used.get(appId) ?? 0) + ms);
    this.#usedTotal += ms;
  }

  /** Why the app's next call must wait for the next window, or null when it may run now. */
  #overShare(appId: string): string | null {
    const now = this.#now();
    if (now - this.#windowStart >= this.#time.windowMs) {
      this.#windowStart = now;
      this.#used.clear();
      this.#usedTotal = 0;
    }
    const used = this.#used.get(appId) ?? 0;
    const { perAppMs, totalMs, windowMs } = this.#time;
    if (used < perAppMs * LIGHT_SHARE || !this.#time.othersActive(appId)) return null;
    if (used >= perAppMs) {
      return `its KV calls took ${used.toFixed(0)} ms of the host's time within ${windowMs} ms, ` +
        `its share (APP_KV_HOST_PERCENT) while other apps are served; its next calls wait for ` +
        "the next window";
    }
    if (this.#usedTotal >= totalMs) {
      return `all apps' KV calls took ${this.#usedTotal.toFixed(0)} ms of the host's time within ` +
        `${windowMs} ms, their share (KV_HOST_PERCENT); this app's next calls wait for the next ` +
        "window";
    }
    return null;
  }

  #windowStarts(): Promise<void> {
    this.#nextWindow ??= new Promise<void>((resolve) =>
      setTimeout(() => {
        this.#nextWindow = null;
        resolve();
      }, Math.max(1, Math.ceil(this.#windowStart + this.#time.windowMs - this.#now())))
    );
    return this.#nextWindow;
  }

  /** Hands the turn to the app's next waiting call, or gives it back. */
  #next(appId: string): void {
    const queue = this.#waiting.get(appId);
    const next = queue?.shift();
    if (queue?.length === 0) this.#waiting.delete(appId);
    if (next) {
      next();
      return;
    }
    const running = (this.#running.get(appId) ?? 1) - 1;
    if (running > 0) this.#running.set(appId, running);
    else this.#running.delete(appId);
  }
}

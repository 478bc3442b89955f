/**
 * Each app's share of the sandbox slots (README "Budgets"). A slot is held while its sandbox has
 * work (a request, `waitUntil` work after one, a cron run, a load); an idle sandbox holds none
 * (it may be evicted). Per app, across its environments, at most a quarter of `MAX_SANDBOXES`
 * are held and at most `APP_MAX_IN_FLIGHT` requests are in flight; two slots are kept for deploy
 * warm-ups and admin operations, and two more for apps that hold none, so one app, or a few,
 * saturating their shares leave the platform answering everyone else.
 */
import { BudgetRefusal } from "../../budget.ts";

/** The figures of the shares, derived from MAX_SANDBOXES and APP_MAX_IN_FLIGHT. */
export interface ShareLimits {
  /** Most sandbox processes at once (MAX_SANDBOXES). */
  maxSandboxes: number;
  /** Most slots one app holds across its environments: a quarter of `maxSandboxes`, at least 1. */
  perApp: number;
  /** Most requests of one app in flight at once (APP_MAX_IN_FLIGHT), waiting ones included. */
  inFlightPerApp: number;
  /** Slots only deploy warm-ups may take: 2 (fewer when `maxSandboxes` is under 4). */
  forWarmUps: number;
  /** Slots only apps that hold none may take: 2 (fewer when there is no room for them). */
  forNewApps: number;
}

/** The share figures for `maxSandboxes` slots and `inFlightPerApp` requests per app. */
export function shareLimits(maxSandboxes: number, inFlightPerApp: number): ShareLimits {
  const perApp = Math.max(1, Math.floor(maxSandboxes / 4));
  const forWarmUps = Math.min(2, Math.floor(maxSandboxes / 2));
  const forNewApps = Math.max(0, Math.min(2, maxSandboxes - forWarmUps - perApp));
  return { maxSandboxes, perApp, inFlightPerApp, forWarmUps, forNewApps };
}

/** Seconds a refused caller is told to wait. */
const RETRY_AFTER_SECONDS = 1;

/** Counts the slots and requests each app holds, and refuses what would pass its share. */
export class AppShares {
  readonly limits: ShareLimits;
  readonly #held = new Map<string, number>();
  #heldTotal = 0;
  readonly #inFlight = new Map<string, number>();

  constructor(limits: ShareLimits) {
    this.limits = limits;
  }

  /**
   * Why `appId` may not take one more slot now, or null if it may. A warm-up (`warmUp`) is
   * only bounded by `maxSandboxes` (checked by the supervisor), so a deploy or rollback can
   * always warm its sandbox, even of an app past its share.
   */
  refusal(appId: string, warmUp: boolean): BudgetRefusal | null {
    if (warmUp) return null;
    const { maxSandboxes, perApp, forWarmUps, forNewApps } = this.limits;
    const held = this.#held.get(appId) ?? 0;
    if (held >= perApp) {
      return new BudgetRefusal(
        "unavailable",
        "sandbox slots per app",
        `sandbox slots per app: app "${appId}" keeps ${held} sandboxes busy across its ` +
          `environments, its share of ${perApp} (a quarter of MAX_SANDBOXES=${maxSandboxes}); ` +
          "retry shortly",
        RETRY_AFTER_SECONDS,
      );
    }
    const pool = maxSandboxes - forWarmUps - (held > 0 ? forNewApps : 0);
    if (this.#heldTotal >= pool) {
      return new BudgetRefusal(
        "unavailable",
        "sandbox slots for functions",
        `sandbox slots for functions: ${this.#heldTotal} of ${maxSandboxes} sandboxes are busy; ` +
          `${forWarmUps} are kept for deploys and ${forNewApps} for apps that hold none; ` +
          "retry shortly",
        RETRY_AFTER_SECONDS,
      );
    }
    return null;
  }

  /** Whether apps other than `appId` hold slots now (they have requests being served). */
  othersHold(appId: string): boolean {
    return this.#heldTotal > (this.#held.get(appId) ?? 0);
  }

  /** Records that `appId` holds one more slot (after `refusal` said it may). */
  take(appId: string): void {
    this.#held.set(appId, (this.#held.get(appId) ?? 0) + 1);
    this.#heldTotal++;
  }

  /** Records that `appId` gave a slot back. */
  give(appId: string): void {
    const held = (this.#held.get(appId) ?? 0) - 1;
    if (held > 0) this.#held.set(appId, held);
    else this.#held.delete(appId);
    this.#heldTotal--;
  }

  /** Counts a request of `appId` in flight; a BudgetRefusal (not counted) past its share. */
  enter(appId: string): BudgetRefusal | null {
    const inFlight = this.#inFlight.get(appId) ?? 0;
    const { inFlightPerApp } = this.limits;
    if (inFlight >= inFlightPerApp) {
      return new BudgetRefusal(
        "unavailable",
        "requests in flight per app",
        `requests in flight per app: app "${appId}" has ${inFlight} requests in flight ` +
          `(waitUntil work and cron runs included), the most one app may have ` +
          `(APP_MAX_IN_FLIGHT=${inFlightPerApp}); retry shortly`,
        RETRY_AFTER_SECONDS,
      );
    }
    this.#inFlight.set(appId, inFlight + 1);
    return null;
  }

  /** Ends a request of `appId` counted by `enter`. */
  leave(appId: string): void {
    const inFlight = (this.#inFlight.get(appId) ?? 0) - 1;
    if (inFlight > 0) this.#inFlight.set(appId, inFlight);
    else this.#inFlight.delete(appId);
  }

  /** Slots `appId` holds now. */
  held(appId: string): number {
    return this.#held.get(appId) ?? 0;
  }
}

/**
 * The bytes of request bodies the host holds at once, per app and in all: a body is read whole
 * before its request runs, so many slow uploads would otherwise hold up to the body limit each.
 * Bytes are taken as they arrive and given back when the request ends; one that would pass
 * either cap refuses its request alone (503 naming the budget, README "Budgets").
 */
import { BudgetRefusal } from "../budget.ts";

/** The caps, in bytes. */
export interface BodyBytesLimits {
  perApp: number;
  total: number;
}

/** Counts request-body bytes held per app and in all. */
export class BodyBytesBudget {
  readonly #limits: BodyBytesLimits;
  readonly #held = new Map<string, number>();
  #total = 0;

  constructor(limits: BodyBytesLimits) {
    this.#limits = limits;
  }

  /** Holds `bytes` more for `appId`; throws BudgetRefusal past either cap. */
  take(appId: string, bytes: number): void {
    const held = this.#held.get(appId) ?? 0;
    const { perApp, total } = this.#limits;
    if (held + bytes > perApp) {
      throw new BudgetRefusal(
        "unavailable",
        "request body bytes per app",
        `this app's requests hold ${held} bytes of request bodies; the budget is ${perApp} ` +
          "bytes per app at once",
        1,
      );
    }
    if (this.#total + bytes > total) {
      throw new BudgetRefusal(
        "unavailable",
        "request body bytes",
        `the platform holds ${this.#total} bytes of request bodies; the budget is ${total} ` +
          "bytes at once",
        1,
      );
    }
    this.#held.set(appId, held + bytes);
    this.#total += bytes;
  }

  /** Gives back `bytes` of `appId`'s (at its request's end). */
  release(appId: string, bytes: number): void {
    if (bytes === 0) return;
    const held = (this.#held.get(appId) ?? 0) - bytes;
    if (held > 0) this.#held.set(appId, held);
    else this.#held.delete(appId);
    this.#total -= bytes;
  }
}

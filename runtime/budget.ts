/**
 * Refusals by a tenant budget (README "Budgets"): the request is answered for its app alone, with
 * a message naming the budget and its figure, and a `Retry-After`. The runner logs these once per
 * budget per app per window (runtime/invoke/refusals.ts), never once per refusal, so anonymous
 * traffic cannot flush an app's log history with them.
 */
import { type ErrorKind, PlatformError } from "./errors.ts";

/** A request refused because its app is past one of its budgets. */
export class BudgetRefusal extends PlatformError {
  /**
   * `kind`: `limit` (429) or `unavailable` (503); `budget`: the budget's name as the README table
   * has it (e.g. `sandbox slots per app`), the key its refusals are counted under.
   */
  constructor(
    kind: Extract<ErrorKind, "limit" | "unavailable">,
    readonly budget: string,
    message: string,
    retryAfterSeconds: number,
  ) {
    super(kind, message, { retryAfterSeconds });
    this.name = "BudgetRefusal";
  }
}

/** A shared quantity's caps: per app and in all. */
export interface ShareLimits {
  perApp: number;
  total: number;
  /**
   * What an app may always hold, whatever the others hold: within it only the per-app cap
   * applies, so a few apps filling the total cannot refuse every other app (default 0).
   */
  floor?: number;
}

/**
 * How much of a shared quantity (bytes of request bodies, outbound fetches in flight, …) the host
 * holds at once, per app and in all. `take` refuses past either cap with a BudgetRefusal naming
 * the budget and the figure; what is taken is given back with `release` when it is let go.
 */
export class HeldShare {
  readonly #limits: ShareLimits;
  readonly #budget: string;
  readonly #what: string;
  readonly #held = new Map<string, number>();
  #total = 0;

  /**
   * `budget`: the name as the README's Budgets table has it (also the log key of refusals);
   * `what`: the quantity in a sentence, e.g. "bytes of request bodies".
   */
  constructor(limits: ShareLimits, budget: string, what: string) {
    this.#limits = limits;
    this.#budget = budget;
    this.#what = what;
  }

  /** Holds `amount` more for `appId`; throws BudgetRefusal (503) past either cap. */
  take(appId: string, amount: number): void {
    const held = this.#held.get(appId) ?? 0;
    const { perApp, total } = this.#limits;
    if (held + amount > perApp) {
      throw new BudgetRefusal(
        "unavailable",
        `${this.#budget} per app`,
        `this app holds ${held} ${this.#what}; the budget is ${perApp} per app at once`,
        1,
      );
    }
    if (this.#total + amount > total && held + amount > (this.#limits.floor ?? 0)) {
      throw new BudgetRefusal(
        "unavailable",
        this.#budget,
        `the platform holds ${this.#total} ${this.#what}; the budget is ${total} at once`,
        1,
      );
    }
    this.#held.set(appId, held + amount);
    this.#total += amount;
  }

  /**
   * Checks that `amount` more (at most a cap's worth) would fit `appId`'s share and the total,
   * without taking it; throws the BudgetRefusal `take` would (for work that should not start
   * unless it can end).
   */
  check(appId: string, amount: number): void {
    const { perApp, total } = this.#limits;
    const room = Math.min(amount, perApp, total);
    this.take(appId, room);
    this.release(appId, room);
  }

  /** Gives back `amount` of `appId`'s. */
  release(appId: string, amount: number): void {
    if (amount === 0) return;
    const held = (this.#held.get(appId) ?? 0) - amount;
    if (held > 0) this.#held.set(appId, held);
    else this.#held.delete(appId);
    this.#total -= amount;
  }
}

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

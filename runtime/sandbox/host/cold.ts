/**
 * Cold starts admitted at a bounded rate, fairly between apps (README "Budgets"). A cold start
 * (loading a deployment into a spare process, and making the spare that replaces it) costs about
 * 80 warm calls of CPU, so a round-robin of anonymous calls over more apps than there are slots
 * would otherwise turn every call into one and take the CPU from the apps that are warm. Starts
 * run one at a time, at most `perSecond` a second (a bucket of `burst`); apps waiting take turns,
 * one start each, so one app's queue of cold calls cannot hold back another app's first one.
 * Deploy warm-ups do not pass here (an admin's deploy is never queued behind tenants).
 */
import { BudgetRefusal } from "../../budget.ts";

/** The figures of the cold-start budget. */
export interface ColdStartLimits {
  /** Cold starts admitted a second (COLD_STARTS_PER_SECOND). */
  perSecond: number;
  /** Cold starts admitted at once after a quiet spell (the bucket's size). */
  burst: number;
  /** Cold starts running at once. */
  concurrent: number;
}

/** One cold start waiting for its turn. */
interface Waiter {
  grant(): void;
  fail(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

/** Admits cold starts at a bounded rate, round-robin between the apps waiting. */
export class ColdStarts {
  readonly limits: ColdStartLimits;
  /** App id → its waiting starts, oldest first; Map order is the apps' turn order. */
  readonly #queues = new Map<string, Waiter[]>();
  #tokens: number;
  #refilledAt = performance.now();
  #running = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(limits: ColdStartLimits) {
    this.limits = limits;
    this.#tokens = limits.burst;
  }

  /**
   * Waits for `appId`'s turn to start a sandbox, until `deadline` (performance.now() ms); answers
   * the function that ends the start (call it once, loaded or not). Past the deadline, rejects
   * with a BudgetRefusal naming the budget.
   */
  admit(appId: string, deadline: number): Promise<() => void> {
    return new Promise((resolve, reject) => {
      const release = () => {
        this.#running--;
        this.#pump();
      };
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(waiter.timer);
          this.#running++;
          let released = false;
          resolve(() => {
            if (released) return;
            released = true;
            release();
          });
        },
        fail: reject,
        timer: setTimeout(() => {
          const queue = this.#queues.get(appId);
          const at = queue?.indexOf(waiter) ?? -1;
          if (queue && at >= 0) {
            queue.splice(at, 1);
            if (queue.length === 0) this.#queues.delete(appId);
          }
          reject(this.#refusal());
        }, Math.max(0, deadline - performance.now())),
      };
      let queue = this.#queues.get(appId);
      if (!queue) this.#queues.set(appId, queue = []);
      queue.push(waiter);
      this.#pump();
    });
  }

  /** Fails every start still waiting with `error`, and stops the refill timer. */
  close(error: Error): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const queue of this.#queues.values()) {
      for (const waiter of queue) {
        clearTimeout(waiter.timer);
        waiter.fail(error);
      }
    }
    this.#queues.clear();
  }

  /** Starts waiting for a turn now. */
  get waiting(): number {
    let waiting = 0;
    for (const queue of this.#queues.values()) waiting += queue.length;
    return waiting;
  }

  /** Grants turns while a start may run and a token is left; else waits for the next token. */
  #pump(): void {
    this.#refill();
    while (this.#running < this.limits.concurrent && this.#tokens >= 1) {
      const next = this.#queues.entries().next();
      if (next.done) return;
      const [appId, queue] = next.value;
      const waiter = queue.shift()!;
      // The app goes to the back of the turn order, with what it still has waiting.
      this.#queues.delete(appId);
      if (queue.length > 0) this.#queues.set(appId, queue);
      this.#tokens--;
      waiter.grant();
    }
    if (this.#queues.size > 0 && this.#tokens < 1 && this.#timer === undefined) {
      const waitMs = ((1 - this.#tokens) / this.limits.perSecond) * 1000;
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#pump();
      }, Math.ceil(waitMs));
    }
  }

  #refill(): void {
    const now = performance.now();
    const { perSecond, burst } = this.limits;
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#refilledAt) / 1000) * perSecond);
    this.#refilledAt = now;
  }

  #refusal(): BudgetRefusal {
    const { perSecond, concurrent } = this.limits;
    return new BudgetRefusal(
      "unavailable",
      "cold starts",
      `cold starts: sandboxes are started at most ${perSecond} a second, ${concurrent} at a ` +
        `time (COLD_STARTS_PER_SECOND), each app waiting taking its turn; ${this.waiting} are ` +
        "waiting; retry shortly",
      1,
    );
  }
}

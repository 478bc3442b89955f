/** Runs one HTTP request against an app's live deployment and answers it. */
import type { Deployments } from "../deploy/deployments.ts";
import type { Egress } from "../egress/fetch.ts";
import { notFound, PlatformError, statusOf } from "../errors.ts";
import { runKvCall } from "../kv/calls.ts";
import { type KvBackend, KvQuotaError } from "../kv/types.ts";
import type { Logs, RequestLog } from "../logs/logs.ts";
import { toWireRequest } from "./request.ts";
import type { ResponseOrigin } from "./origin.ts";
import { HeaderDropReports } from "./header_drops.ts";
import type { Job } from "../cron/schedule.ts";
import { newId } from "../ids.ts";
import type { Metrics } from "../metrics/metrics.ts";
import type { RateLimits } from "../ratelimit/limits.ts";
import type { JobRun } from "../store/types.ts";
import { REQUEST_ID_HEADER, toResponse } from "./response.ts";
import { RequestTiming, seesQueueFigures } from "./timing.ts";
import { RefusalReports } from "./refusals.ts";
import { MissReports } from "./misses.ts";
import { BudgetRefusal, type HeldShare } from "../budget.ts";
import { FETCH_COST_MS, type HostTime } from "./host_time.ts";
import type { ApiKeys } from "../auth/keys.ts";
import type { Supervisor } from "../sandbox/host/supervisor.ts";
import { type InvocationHooks, LoadError, SandboxFailure } from "../sandbox/host/sandbox.ts";
import { BadResultError, type WireFetchRequest } from "../sandbox/protocol.ts";
import type { EnvVars, RequestEnv } from "../vars/vars.ts";
import { redactSecrets } from "../vars/redact.ts";

/** Dependencies and limits of the function runner. */
export interface FunctionRunnerOptions {
  deployments: Deployments;
  sandboxes: Supervisor;
  rateLimits: RateLimits;
  metrics: Metrics;
  kv: KvBackend;
  logs: Logs;
  egress: Egress;
  vars: EnvVars;
  /** Execution time limit per request, in ms. */
  timeoutMs: number;
  /** Request body limit, in bytes. */
  maxBodyBytes: number;
  /** The admin key, removed (like any per-app key) from every header a function would see. */
  adminKey: string;
  /** Tells whether a request carries its app's key or the admin key (who sees queue figures). */
  keys: ApiKeys;
  /** How long a request body may go without a byte before it is answered 408, in ms. */
  bodyIdleMs: number;
  /** Whether the `X-Forwarded-For` of a proxy in front says who the client is (TRUST_PROXY). */
  trustProxy: boolean;
  /** Request-body bytes held at once, per app and in all. */
  bodyBytes: HeldShare;
  /** Outbound fetches in flight (head or body still coming), per app and in all. */
  fetches: HeldShare;
  /** Bytes of outbound fetch request bodies held until sent, per app and in all. */
  fetchBodyBytes: HeldShare;
  /** The apps' shares of the host's time, which a fetch waits for once its budgets are taken. */
  hostTime: HostTime;
}

/** Which app, environment and function path a request addresses. */
export interface FunctionTarget {
  appId: string;
  environment: string;
  /** The path below `/functions`, e.g. `/users/42`, still percent-encoded. */
  subpath: string;
  /** Which URL form the request came by: the shared path form, or the app's own host. */
  origin: ResponseOrigin;
  /** A cron run: no rate limit applies. */
  scheduled?: boolean;
  /** The connection's remote address (the client, or a proxy in front), when there is one. */
  clientAddress?: string | null;
}

/**
 * Why a request's leftover fetches are aborted; one value for all (an abort without a reason
 * builds a DOMException with a stack each time).
 */
const REQUEST_ENDED = new Error("the request that made this fetch has ended");

/** Most outbound fetches one request may make (as Cloudflare Workers bound subrequests). */
const MAX_FETCHES_PER_REQUEST = 100;

/** Answers requests to deployed functions. */
export class FunctionRunner {
  readonly #options: FunctionRunnerOptions;
  /** Headers dropped from responses, logged once a window per app and header. */
  readonly #headerDrops = new HeaderDropReports();
  /** Budget refusals (rate limits, sandbox shares), logged once a window per app and budget. */
  readonly #refusals = new RefusalReports();
  /** Requests that hit no function, logged once a window per app. */
  readonly #misses = new MissReports();

  constructor(options: FunctionRunnerOptions) {
    this.#options = options;
  }

  /** Runs the function `target` addresses; throws PlatformError when it has no answer. */
  async run(target: FunctionTarget, request: Request, requestId: string): Promise<Response> {
    const { appId, environment, subpath } = target;
    const live = await this.#options.deployments.live(appId, environment);
    if (!live) {
      throw notFound(`app "${appId}" has no live deployment in environment "${environment}"`);
    }
    const match = live.router.match(subpath);
    if (!match) {
      // Logged under the app, one entry a window with a count, so probes cannot flush history.
      const entry = this.#misses.report({
        appId,
        environment,
        deploymentId: live.deployment.id,
        requestId,
        method: request.method,
        path: `/functions${subpath}`,
      });
      if (entry) this.#options.logs.write(entry);
      throw notFound(`app "${appId}" has no function at /functions${subpath}`);
    }
    const path = `/functions${subpath}`;
    const started = performance.now();
    const log = this.#options.logs.request({
      appId,
      environment,
      deploymentId: live.deployment.id,
      function: match.file,
      requestId,
    });
    let status = 500;
    let vars: RequestEnv = { env: {}, secrets: {} };
    const timing = new RequestTiming(started);
    const detailed = seesQueueFigures(request, appId, this.#options.keys);
    let refused = false;
    /** Request-body bytes this request holds against the budget, given back at its end. */
    let heldBytes = 0;
    /**
     * Aborts the request's outbound fetches when it ends (none outlives its request); made at
     * the first fetch, so a request that makes none pays nothing for it.
     */
    const outbound: { controller?: AbortController } = {};
    const ended = () => (outbound.controller ??= new AbortController()).signal;
    /** Whether the request goes on after `run` returns (a stream, waitUntil work). */
    let lasting = false;
    live.enter();
    try {
      // Each of these answers at once, without a promise, on the hot path (no limit; cached vars).
      const admitted = target.scheduled
        ? undefined
        : this.#options.rateLimits.admit(appId, environment, match.file);
      if (admitted) await admitted;
      const known = this.#options.vars.forRequest(appId, environment);
      vars = known instanceof Promise ? await known : known;
      const incoming = await toWireRequest(
        request,
        path,
        match.params,
        this.#options.maxBodyBytes,
        this.#options.adminKey,
        this.#options.bodyIdleMs,
        { address: target.clientAddress ?? null, trustProxy: this.#options.trustProxy },
        (bytes) => {
          this.#options.bodyBytes.take(appId, bytes);
          heldBytes += bytes;
        },
        this.#options.timeoutMs,
      );
      const acquire = {};
      const invoked = performance.now();
      const { result, body, stream, background } = await this.#options.sandboxes.invoke(
        live.deployment,
        { file: match.file, env: vars.env, ...incoming },
        this.#hooks(
          appId,
          log,
          vars.secrets,
          started + this.#options.timeoutMs,
          timing,
          ended,
        ),
        this.#options.timeoutMs,
        acquire,
        { queue: !target.scheduled },
      );
      Object.assign(timing, acquire);
      const answered = performance.now();
      timing.handlerMs = answered - invoked - timing.queueMs - timing.sandboxMs;
      const { response, dropped } = toResponse(result, body, stream, target.origin, [
        ["server-timing", timing.header(detailed && await detailed, answered)],
        [REQUEST_ID_HEADER, requestId],
      ]);
      // The request lives on in its stream or waitUntil work: its fetches end when that does.
      if (background) {
        lasting = true;
        background.then(
          () => outbound.controller?.abort(REQUEST_ENDED),
          () => outbound.controller?.abort(REQUEST_ENDED),
        );
      }
      background?.catch((error: Error) =>
        log.log("error", redactSecrets(failureLog(error), vars.secrets))
      );
      for (const line of this.#headerDrops.report(appId, dropped)) log.log("warn", line);
      status = response.status;
      return response;
    } catch (error) {
      const answer = toPlatformError(error, match.file, vars.secrets);
      status = statusOf(answer);
      if (answer instanceof PlatformError) {
        answer.headers["server-timing"] = timing.header(detailed && await detailed);
      }
      if (answer instanceof BudgetRefusal) {
        // One entry per window and budget, not one per refusal (nor a request entry).
        refused = true;
        const line = this.#refusals.report(appId, answer.budget, answer.message);
        if (line) this.#options.logs.event(appId, "warn", line);
      } else {
        log.log(
          status >= 500 ? "error" : "warn",
          redactSecrets(failureLog(error), vars.secrets),
        );
      }
      throw answer;
    } finally {
      if (!lasting) outbound.controller?.abort(REQUEST_ENDED);
      this.#options.bodyBytes.release(appId, heldBytes);
      live.leave();
      const durationMs = performance.now() - started;
      if (!refused) log.finish({ method: request.method, path, status, durationMs });
      const { metrics } = this.#options;
      metrics.request({ app: appId, environment, function: match.file }, status, durationMs);
      metrics.logDrops(appId, log.dropped);
    }
  }

  /**
   * Runs a cron job once, as a request with method `SCHEDULED` to its route, the tick's time in
   * the `x-scheduled-at` header; answers how it went (it never throws).
   */
  async runScheduled(job: Job, scheduledAt: Date, trigger: JobRun["trigger"]): Promise<JobRun> {
    const requestId = newId("req");
    const started = performance.now();
    const path = job.file.replace(/^api/, "").replace(/\.(ts|js)$/, "").replace(/\/index$/, "");
    const request = new Request(`http://scheduled.invalid/functions${path}`, {
      method: "SCHEDULED",
      headers: { "x-scheduled-at": scheduledAt.toISOString() },
    });
    const base = { scheduled_at: scheduledAt.toISOString(), request_id: requestId, trigger };
    try {
      const response = await this.run(
        {
          appId: job.appId,
          environment: job.environment,
          subpath: path || "/",
          origin: { shared: true },
          scheduled: true,
        },
        request,
        requestId,
      );
      await response.body?.cancel();
      const durationMs = Math.round((performance.now() - started) * 100) / 100;
      const ok = response.status < 400;
      return {
        ...base,
        duration_ms: durationMs,
        status: response.status,
        outcome: ok ? "ok" : "error",
      };
    } catch (error) {
      const durationMs = Math.round((performance.now() - started) * 100) / 100;
      if (error instanceof BudgetRefusal) {
        // The app's share is full: this tick is skipped, not queued behind its other work.
        return {
          ...base,
          request_id: "",
          duration_ms: durationMs,
          status: 0,
          outcome: "skipped",
          error: `skipped: ${error.message}`.slice(0, 2000),
        };
      }
      const status = statusOf(error);
      const message = error instanceof Error ? error.message : String(error);
      return {
        ...base,
        duration_ms: durationMs,
        status,
        outcome: "error",
        error: message.slice(0, 2000),
      };
    }
  }

  /**
   * What a handler can call back for. `secrets` feed the egress proxy and are redacted from
   * log lines; `deadline` (performance.now() ms) bounds outbound fetches.
   */
  #hooks(
    appId: string,
    log: RequestLog,
    secrets: Record<string, string>,
    deadline: number,
    timing: RequestTiming,
    ended: () => AbortSignal,
  ): InvocationHooks {
    const { kv, egress, metrics, fetches: inFlight, fetchBodyBytes, hostTime } = this.#options;
    const refusals = this.#refusals;
    let fetches = 0;
    /**
     * Takes `amount` of `share` for a fetch, answering how to give it back (once); a refusal is
     * logged once a window, and the handler's fetch rejects naming the budget.
     */
    const holding = (share: HeldShare, amount: number): () => void => {
      try {
        share.take(appId, amount);
      } catch (error) {
        if (!(error instanceof BudgetRefusal)) throw error;
        const line = refusals.report(appId, error.budget, error.message);
        if (line) log.log("warn", line);
        throw new Error(`fetch: ${error.message}`);
      }
      let held = true;
      return () => {
        if (held) share.release(appId, amount);
        held = false;
      };
    };
    return {
      async call(op, args, body) {
        if (op.startsWith("kv.")) {
          const name = op.slice(3);
          try {
            metrics.kv(appId, name);
            const value = await timing.measure(timing.kv, () => runKvCall(kv, appId, name, args));
            return { value };
          } catch (error) {
            if (error instanceof KvQuotaError) log.log("warn", `limit reached: ${error.message}`);
            throw error;
          }
        }
        if (op === "fetch") {
          if (++fetches > MAX_FETCHES_PER_REQUEST) {
            const message =
              `fetch: a request may make at most ${MAX_FETCHES_PER_REQUEST} outbound fetches`;
            if (fetches === MAX_FETCHES_PER_REQUEST + 1) {
              log.log("warn", `limit reached: ${message}`);
            }
            throw new Error(message);
          }
          const signal = AbortSignal.any([
            ended(),
            AbortSignal.timeout(Math.max(1, deadline - performance.now())),
          ]);
          const bytes = body instanceof Uint8Array ? body.length : 0;
          const releaseFetch = holding(inFlight, 1);
          try {
            const releaseBytes = holding(fetchBodyBytes, bytes);
            try {
              // Its budgets are taken first: a fetch waiting for the app's host time holds them.
              const answer = await timing.measure(
                timing.fetch,
                () =>
                  hostTime.run(
                    appId,
                    () => egress.fetch(args[0] as WireFetchRequest, body, secrets, signal),
                    () => FETCH_COST_MS,
                  ),
              );
              if (!answer.stream) {
                releaseFetch();
                return answer;
              }
              // The socket is held until the body has been read, cancelled or cut.
              return { ...answer, onStreamEnd: releaseFetch };
            } finally {
              releaseBytes();
            }
          } catch (error) {
            releaseFetch();
            throw error;
          }
        }
        throw new Error(`${op} is not available`);
      },
      log(level, message) {
        // Bounds first: redaction then only ever sees admitted text. Stacks arrive mapped to the
        // user's files (the sandbox maps its own).
        log.log(level, message, (text) => redactSecrets(text, secrets));
      },
      dropped(entries, characters) {
        log.countDropped(entries, characters);
      },
    };
  }
}

/** What the logs say about a failed invocation: the error with its stack where there is one. */
function failureLog(error: unknown): string {
  if (error instanceof SandboxFailure) return error.userStack ?? error.message;
  return error instanceof Error ? error.message : String(error);
}

function toPlatformError(error: unknown, file: string, secrets: Record<string, string>): unknown {
  if (error instanceof BadResultError) {
    const reason = redactSecrets(error.message, secrets);
    return new PlatformError(
      "function-failed",
      `${file} returned a value that cannot be sent: ${reason}`,
      { cause: error },
    );
  }
  if (error instanceof LoadError) {
    return new PlatformError(
      "function-failed",
      `${file}'s deployment failed to load: ${error.failure.message}`,
      {
        cause: error,
      },
    );
  }
  if (!(error instanceof SandboxFailure)) return error;
  const { failure } = error;
  const message = redactSecrets(error.message, secrets);
  const text = failure === "threw"
    ? `${file} threw ${message}`
    : failure === "bad-result"
    ? `${file} returned a value that cannot be sent: ${message}`
    : message;
  return new PlatformError(error.kind, text, {
    retryAfterSeconds: error.retryAfterSeconds,
    cause: error,
  });
}

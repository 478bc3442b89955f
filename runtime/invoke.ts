/** Runs one HTTP request against an app's live deployment and answers it. */
import type { Deployments } from "./deployments.ts";
import { HttpError, notFound } from "./errors.ts";
import { runKvCall } from "./kv/calls.ts";
import type { KvBackend } from "./kv/types.ts";
import { toFunctionRequest } from "./request.ts";
import { toResponse } from "./response.ts";
import type { SandboxPool } from "./sandbox/pool.ts";
import type { InvocationHooks } from "./sandbox/process.ts";
import { SandboxFailure } from "./sandbox/process.ts";
import type { LogLevel } from "./sandbox/protocol.ts";
import { BadResultError } from "./sandbox/result.ts";

/** Dependencies and limits of the function runner. */
export interface FunctionRunnerOptions {
  deployments: Deployments;
  pool: SandboxPool;
  kv: KvBackend;
  /** Execution time limit per request, in ms. */
  timeoutMs: number;
  /** Request body limit, in bytes. */
  maxBodyBytes: number;
  /** Receives every console line of a handler, with the request it belongs to. */
  onLog(entry: { appId: string; requestId: string; level: LogLevel; message: string }): void;
}

/** Which app, environment and function path a request addresses. */
export interface FunctionTarget {
  appId: string;
  environment: string;
  /** The path below `/functions`, e.g. `/users/42`. */
  subpath: string;
}

const FAILURE_STATUS = {
  threw: 500,
  "bad-result": 500,
  restarted: 503,
  crashed: 502,
  timeout: 504,
};

/** Answers requests to deployed functions. */
export class FunctionRunner {
  readonly #options: FunctionRunnerOptions;

  constructor(options: FunctionRunnerOptions) {
    this.#options = options;
  }

  /** Runs the function `target` addresses; throws HttpError for 4xx/5xx answers. */
  async run(target: FunctionTarget, request: Request, requestId: string): Promise<Response> {
    const { appId, environment, subpath } = target;
    const live = await this.#options.deployments.live(appId, environment);
    if (!live) {
      throw notFound(`app "${appId}" has no live deployment in environment "${environment}"`);
    }
    const match = live.router.match(subpath);
    if (!match) throw notFound(`app "${appId}" has no function at /functions${subpath}`);
    const path = `/functions${subpath}`;
    const req = await toFunctionRequest(request, path, match.params, this.#options.maxBodyBytes);
    live.enter();
    try {
      const result = await this.#options.pool.invoke(
        appId,
        live.deployment,
        { id: requestId, file: match.file, req, env: {} },
        this.#hooks(appId, requestId),
        this.#options.timeoutMs,
      );
      return toResponse(result);
    } catch (error) {
      throw toHttpError(error, match.file);
    } finally {
      live.leave();
    }
  }

  #hooks(appId: string, requestId: string): InvocationHooks {
    const { kv, onLog } = this.#options;
    return {
      call(op, args) {
        if (op.startsWith("kv.")) return runKvCall(kv, appId, op.slice(3), args);
        return Promise.reject(new Error(`${op} is not available`));
      },
      log(level, message) {
        onLog({ appId, requestId, level, message });
      },
    };
  }
}

function toHttpError(error: unknown, file: string): unknown {
  if (error instanceof BadResultError) {
    return new HttpError(500, `${file} returned a value that cannot be sent: ${error.message}`);
  }
  if (!(error instanceof SandboxFailure)) return error;
  const { kind, message } = error.failure;
  const text = kind === "threw"
    ? `${file} threw ${message}`
    : kind === "bad-result"
    ? `${file} returned a value that cannot be sent: ${message}`
    : message;
  return new HttpError(FAILURE_STATUS[kind], text);
}

/**
 * The RedisClient over the Upstash REST protocol (UPSTASH_REDIS_REST_URL and _TOKEN): a command
 * is a JSON array POSTed to the URL, a pipeline an array of them POSTed to `/pipeline`, and each
 * answers `{ result }` or `{ error }`. For serverless Redis (Upstash) and other HTTP-only places;
 * it cannot subscribe, so instances on it learn of each other's changes by polling.
 */
import {
  type RedisArg,
  type RedisClient,
  type RedisReply,
  RedisReplyError,
  RedisUnavailableError,
} from "./redis.ts";

/** Connection settings of the REST client. */
export interface RestRedisOptions {
  url: string;
  token: string;
  /** How long one call (with its one retry) may take before it fails, in ms. */
  timeoutMs: number;
}

/** Wait before the one retry of a call that could not reach the server, in ms. */
const RETRY_MS = 50;

/** One command's answer in the Upstash REST protocol. */
interface Answer {
  result?: RedisReply;
  error?: string;
}

/** A RedisClient speaking the Upstash REST protocol with `fetch`. */
export class RestRedis implements RedisClient {
  readonly #options: RestRedisOptions;
  #problem: string | null = null;

  constructor(options: RestRedisOptions) {
    this.#options = options;
  }

  async send(args: RedisArg[]): Promise<RedisReply> {
    return reply(await this.#post("", args.map(String)) as Answer);
  }

  async pipeline(commands: RedisArg[][]): Promise<RedisReply[]> {
    if (commands.length === 0) return [];
    const answers = await this.#post("/pipeline", commands.map((c) => c.map(String)));
    if (!Array.isArray(answers)) {
      throw new RedisUnavailableError("the REST server answered no list");
    }
    return (answers as Answer[]).map(reply);
  }

  lastProblem(): string | null {
    return this.#problem;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** POSTs `body`, retrying once if the server could not be reached; answers the parsed JSON. */
  async #post(path: string, body: unknown): Promise<unknown> {
    const signal = AbortSignal.timeout(this.#options.timeoutMs);
    for (let attempt = 0;; attempt++) {
      let response: Response;
      try {
        response = await fetch(this.#options.url.replace(/\/+$/, "") + path, {
          method: "POST",
          headers: {
            authorization: `Bearer ${this.#options.token}`,
            "content-type": "application/json",
          },
          body: JSON.stringify(body),
          signal,
        });
      } catch (error) {
        if (attempt === 0 && !signal.aborted) {
          await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
          continue;
        }
        throw this.#unavailable(signal.aborted ? "timed out" : (error as Error).message, error);
      }
      const text = await response.text().catch(() => "");
      if (response.status === 401 || response.status === 403) {
        throw this.#unavailable(`the REST server refused the token (${response.status})`);
      }
      if (response.status >= 500) {
        throw this.#unavailable(`the REST server answered ${response.status}`);
      }
      this.#problem = null;
      try {
        return JSON.parse(text);
      } catch {
        throw new RedisReplyError(`the REST server answered ${response.status} without JSON`);
      }
    }
  }

  #unavailable(message: string, cause?: unknown): RedisUnavailableError {
    this.#problem = message;
    return new RedisUnavailableError(message, { cause });
  }
}

/** The reply of one answer, or its error reply thrown. */
function reply(answer: Answer): RedisReply {
  if (answer?.error !== undefined) throw new RedisReplyError(answer.error);
  return answer?.result ?? null;
}

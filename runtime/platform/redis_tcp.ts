/**
 * The RedisClient over TCP (REDIS_URL: `redis://` or `rediss://` for TLS, with a password or an
 * ACL user and password in the URL), with node-redis, the Redis project's own client. Commands
 * fail at once while the connection is down (no offline queue: a caller gets a quick 503, not a
 * wait), and the client reconnects by itself. Subscriptions use a connection of their own, which
 * node-redis re-subscribes after each reconnect.
 */
import { createClient, ErrorReply } from "redis";
import {
  type RedisArg,
  type RedisClient,
  type RedisListener,
  type RedisReply,
  RedisReplyError,
  type RedisSubscription,
  RedisUnavailableError,
} from "./redis.ts";

/** Connection settings of the TCP client. */
export interface TcpRedisOptions {
  /** `redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS. */
  url: string;
  /** How long one call, or one connection attempt, may take before it fails, in ms. */
  timeoutMs: number;
}

/** The longest wait between reconnection attempts, in ms. */
const MAX_RECONNECT_WAIT_MS = 1000;

type NodeRedis = ReturnType<typeof createClient>;

/** A RedisClient over one TCP connection (plus one per subscription). */
export class TcpRedis implements RedisClient {
  readonly #client: NodeRedis;
  readonly #timeoutMs: number;
  readonly #subscribers = new Set<NodeRedis>();
  #problem: string | null = null;

  private constructor(options: TcpRedisOptions) {
    this.#timeoutMs = options.timeoutMs;
    this.#client = createClient({
      url: options.url,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: options.timeoutMs,
        reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, MAX_RECONNECT_WAIT_MS),
      },
    });
    this.#watch(this.#client);
  }

  /**
   * Connects, waiting at most `timeoutMs` for the first connection; if Redis is not reachable by
   * then, answers a client that keeps trying (calls fail as `unavailable` until it connects).
   */
  static async open(options: TcpRedisOptions): Promise<TcpRedis> {
    const redis = new TcpRedis(options);
    const connected = redis.#client.connect().then(() => true, () => false);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      connected,
      new Promise((resolve) => timer = setTimeout(resolve, options.timeoutMs)),
    ]);
    clearTimeout(timer);
    return redis;
  }

  send(args: RedisArg[]): Promise<RedisReply> {
    return this.#bounded(() => this.#client.sendCommand(args.map(String)) as Promise<RedisReply>);
  }

  pipeline(commands: RedisArg[][]): Promise<RedisReply[]> {
    if (commands.length === 0) return Promise.resolve([]);
    return this.#bounded(() => {
      const multi = this.#client.multi();
      for (const command of commands) multi.addCommand(command.map(String));
      // RESP2 (the default protocol) has no maps, so every reply fits RedisReply.
      return multi.execAsPipeline() as unknown as Promise<RedisReply[]>;
    });
  }

  subscribe(channel: string, listener: RedisListener): Promise<RedisSubscription> {
    // Its own connection, queueing the SUBSCRIBE until it is up; node-redis renews it on reconnect.
    const subscriber = this.#client.duplicate({ disableOfflineQueue: false });
    this.#watch(subscriber);
    subscriber.on("ready", () => listener.ready());
    this.#subscribers.add(subscriber);
    subscriber.connect().catch(() => {/* retried by the reconnect strategy */});
    // Not awaited: with Redis down it completes once a connection is made, and `ready` says so.
    subscriber.subscribe(channel, (message) => listener.message(message)).catch(() => {});
    return Promise.resolve({
      close: async () => {
        this.#subscribers.delete(subscriber);
        await close(subscriber);
      },
    });
  }

  lastProblem(): string | null {
    return this.#problem;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#subscribers].map(close));
    this.#subscribers.clear();
    await close(this.#client);
  }

  /** Records connection problems (node-redis requires an error listener) and recoveries. */
  #watch(client: NodeRedis): void {
    client.on("error", (error: Error) => {
      this.#problem = describe(error);
    });
    client.on("ready", () => {
      this.#problem = null;
    });
  }

  /** Runs a call with the time limit, translating node-redis's errors into the seam's. */
  async #bounded<T>(call: () => Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new RedisUnavailableError(`no answer within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
    });
    try {
      return await Promise.race([call(), late]);
    } catch (error) {
      if (error instanceof RedisUnavailableError) throw error;
      if (error instanceof ErrorReply && !isAuthFailure(error)) {
        throw new RedisReplyError(error.message);
      }
      const reason = describe(error as Error);
      throw new RedisUnavailableError(
        this.#problem && this.#problem !== reason ? `${reason} (${this.#problem})` : reason,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Whether an error reply means our credentials are refused, which is an outage, not a bug. */
function isAuthFailure(error: Error): boolean {
  return /^(WRONGPASS|NOAUTH)/.test(error.message);
}

/** A client error as one line, never with the URL (which may carry a password). */
function describe(error: Error): string {
  return (error?.message ?? String(error)).replace(/rediss?:\/\/\S*/g, "(the REDIS_URL)");
}

/** Closes a node-redis client whether or not it is connected. */
async function close(client: NodeRedis): Promise<void> {
  try {
    // A client still trying to connect has nothing to finish: stop its attempts at once.
    if (client.isReady) await client.close();
    else if (client.isOpen) client.destroy();
  } catch {
    if (client.isOpen) client.destroy();
  }
}

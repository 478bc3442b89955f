/** Opens the Redis client a configuration names (README "Scale-out"), and says where it points. */
import type { RedisConfig } from "./config.ts";
import { redactedUrl, type RedisClient } from "./redis.ts";
import { RestRedis } from "./redis_rest.ts";
import { TcpRedis } from "./redis_tcp.ts";

/** The TCP client for REDIS_URL (waiting up to its timeout to connect), or the REST client. */
export async function openRedis(config: RedisConfig): Promise<RedisClient> {
  return config.kind === "tcp"
    ? await TcpRedis.open({ url: config.url, timeoutMs: config.timeoutMs })
    : new RestRedis(config);
}

/** Redis's (or its REST server's) host and port, for the egress block list; 6379 by default. */
export function redisEndpoint(config: RedisConfig): { hostname: string; port: number } {
  const url = new URL(config.url);
  const fallback = config.kind === "tcp" ? 6379 : url.protocol === "https:" ? 443 : 80;
  return {
    hostname: url.hostname.replace(/^\[|\]$/g, "").toLowerCase(),
    port: url.port ? Number(url.port) : fallback,
  };
}

/** Where Redis is, for messages: the URL without its password. */
export function redisLocation(config: RedisConfig): string {
  return redactedUrl(config.url);
}

import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../runtime/platform/config.ts";
import { freePort, waitFor } from "./helpers.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Runs `main.ts` with exactly `env` (plus PATH and HOME) and returns its exit code and stderr. */
async function runMain(env: Record<string, string>) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN],
    clearEnv: true,
    env: { HOME: Deno.env.get("HOME") ?? "/tmp", NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

const GOOD = { API_KEY: "cli-test-admin-key-0123", PORT: "0" };

for (
  const [what, env, message] of [
    ["no API_KEY", { PORT: "0" }, /API_KEY must be set to a secret of at least 16 characters/],
    ["a short API_KEY", { API_KEY: "short", PORT: "0" }, /API_KEY must be set/],
    ["a PORT that is not a number", { ...GOOD, PORT: "eighty" }, /PORT must be a whole number/],
    [
      "only half of the Redis settings",
      { ...GOOD, UPSTASH_REDIS_REST_URL: "http://127.0.0.1:1" },
      /set both UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN/,
    ],
    [
      "Redis without SECRETS_KEY",
      { ...GOOD, UPSTASH_REDIS_REST_URL: "http://127.0.0.1:1", UPSTASH_REDIS_REST_TOKEN: "t" },
      /SECRETS_KEY must be set when Redis is configured/,
    ],
    [
      "REDIS_URL without SECRETS_KEY",
      { ...GOOD, REDIS_URL: "redis://127.0.0.1:6379" },
      /SECRETS_KEY must be set when Redis is configured/,
    ],
    [
      "a REDIS_URL that is not redis:// or rediss://",
      { ...GOOD, REDIS_URL: "http://127.0.0.1:6379" },
      /REDIS_URL must look like "redis:\/\/\[\[user\]:password@\]host/,
    ],
    [
      "a REDIS_URL with a path that is no database number",
      { ...GOOD, REDIS_URL: "redis://127.0.0.1:6379/cache" },
      /REDIS_URL's path must be a database number/,
    ],
    [
      "REDIS_URL and the Upstash REST settings together",
      {
        ...GOOD,
        REDIS_URL: "redis://127.0.0.1:6379",
        UPSTASH_REDIS_REST_URL: "http://127.0.0.1:1",
        UPSTASH_REDIS_REST_TOKEN: "t",
      },
      /set REDIS_URL or UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN, not both/,
    ],
    ["a SECRETS_KEY of the wrong size", { ...GOOD, SECRETS_KEY: btoa("short") }, /base64 of 32/],
    [
      "EGRESS_RULES that are not JSON",
      { ...GOOD, EGRESS_RULES: "{" },
      /EGRESS_RULES must be a JSON array/,
    ],
    [
      "a sandbox memory budget below one sandbox's cap",
      { ...GOOD, SANDBOX_MEMORY_MB: "256", SANDBOX_MEMORY_TOTAL_MB: "200" },
      /SANDBOX_MEMORY_TOTAL_MB must be at least SANDBOX_MEMORY_MB \(256\)/,
    ],
    [
      "a CPU share past 100%",
      { ...GOOD, APP_CPU_PERCENT: "150" },
      /APP_CPU_PERCENT must be at most 100/,
    ],
    [
      "a host-time share of calls past 100%",
      { ...GOOD, APP_HOST_CALLS_PERCENT: "101" },
      /APP_HOST_CALLS_PERCENT must be at most 100/,
    ],
    [
      "a host-time total of calls below one app's share",
      { ...GOOD, APP_HOST_CALLS_PERCENT: "60", HOST_CALLS_PERCENT: "50" },
      /HOST_CALLS_PERCENT \(50\) must be at least APP_HOST_CALLS_PERCENT \(60\)/,
    ],
    [
      "a host-time share of calls of none",
      { ...GOOD, HOST_CALLS_PERCENT: "0" },
      /HOST_CALLS_PERCENT must be at least 1/,
    ],
    [
      "fewer than two deployments kept",
      { ...GOOD, DEPLOYMENTS_KEPT: "1" },
      /DEPLOYMENTS_KEPT must be at least 2/,
    ],
    [
      "an egress rule without a host",
      { ...GOOD, EGRESS_RULES: '[{"headers":{}}]' },
      /EGRESS_RULES\[0\]\.origin must be an origin like "https:\/\/api\.example\.com"/,
    ],
  ] as const
) {
  Deno.test(`the configuration refuses ${what}, saying which setting is wrong`, () => {
    assert.throws(() => loadConfig(env), (error) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, message);
      return true;
    });
  });
}

Deno.test("the server refuses to start on a bad setting: exit 2, naming it on stderr", async () => {
  const { code, stderr } = await runMain({ PORT: "0" });
  assert.equal(code, 2, stderr);
  assert.match(stderr, /^configuration error: API_KEY must be set/m);
});

Deno.test("the server starts on the embedded stores with only API_KEY set, and stops on SIGTERM", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "cli-test-" });
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN],
    clearEnv: true,
    env: {
      HOME: Deno.env.get("HOME") ?? "/tmp",
      API_KEY: GOOD.API_KEY,
      PORT: String(port),
      HOST: "127.0.0.1",
      DATA_DIR: dataDir,
    },
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitFor("the server", async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok);
    const secretsKey = await Deno.stat(`${dataDir}/secrets.key`);
    assert.equal(secretsKey.mode! & 0o077, 0, "the generated key is readable by its owner only");
  } finally {
    child.kill("SIGTERM");
  }
  assert.equal((await child.status).code, 0);
  await Deno.remove(dataDir, { recursive: true });
});

/**
 * The error model: every kind answers its status with a JSON `error`, anything else is a 500
 * that shows nothing, and every error class the runtime declares is a PlatformError or one
 * that is converted before it can reach the HTTP edge.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { type ErrorKind, PlatformError, STATUS } from "../runtime/errors.ts";
import { answerError } from "../routes/errors.ts";

/** Error classes that never reach the edge, each with where it is converted. */
const INTERNAL: Record<string, string> = {
  BadRequestError: "raised in the sandbox; crosses as a bad-request failure, answered 400",
  ShapeError: "raised in the sandbox while loading; crosses as load-failed, a 400 at deploy",
  RedisUnavailableError: "whenReachable turns it into an unavailable 503 naming the store",
  RedisReplyError: "a command Redis refused is the platform's own bug: a 500 without details",
  BadResultError: "the runner answers it as function-failed",
  ConfigError: "startup only: main.ts exits 2 naming the setting",
  DatabaseInUseError: "startup only: main.ts exits 2 naming the file another server holds",
  EgressError: "reaches the function as its fetch's rejection",
  FrameError: "the host stops the sandbox that broke the wire",
  TailOverflowError: "ends a live tail stream, which says so",
};

function answering(error: unknown): Hono {
  const app = new Hono();
  app.onError(answerError);
  app.get("/", () => {
    throw error;
  });
  return app;
}

for (const [kind, status] of Object.entries(STATUS) as Array<[ErrorKind, number]>) {
  Deno.test(`a ${kind} error is answered ${status} with its message as JSON`, async () => {
    const response = await answering(
      new PlatformError(kind, `what was wrong (${kind})`, { details: { field: "x" } }),
    ).request("/");
    assert.equal(response.status, status);
    assert.deepEqual(await response.json(), { error: `what was wrong (${kind})`, field: "x" });
  });
}

Deno.test("an error that may be retried carries Retry-After", async () => {
  const response = await answering(
    new PlatformError("unavailable", "busy", { retryAfterSeconds: 3 }),
  ).request("/");
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("retry-after"), "3");
  await response.body?.cancel();
});

Deno.test("an error of the platform's own is a 500 that shows nothing of it", async () => {
  const original = console.error;
  console.error = () => {};
  try {
    const response = await answering(new TypeError("secret internals")).request("/");
    assert.equal(response.status, 500);
    assert.deepEqual(await response.json(), { error: "internal server error" });
  } finally {
    console.error = original;
  }
});

Deno.test("every error class in runtime/ is a PlatformError, or converted before the edge", async () => {
  const parents = new Map<string, string>();
  const walk = async (dir: URL) => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) await walk(new URL(`${entry.name}/`, dir));
      else if (entry.name.endsWith(".ts")) {
        const text = await Deno.readTextFile(new URL(entry.name, dir));
        for (const m of text.matchAll(/class (\w+) extends (\w+)/g)) parents.set(m[1]!, m[2]!);
      }
    }
  };
  await walk(new URL("../runtime/", import.meta.url));
  const root = (name: string): string => {
    for (let at = name, hops = 0; hops < 10; hops++) {
      const parent = parents.get(at);
      if (!parent || parent === "Error" || parent === "PlatformError") return parent ?? at;
      at = parent;
    }
    return name;
  };
  const errors = [...parents.keys()].filter((name) =>
    ["Error", "PlatformError"].includes(root(name))
  );
  assert.ok(errors.includes("SandboxFailure") && errors.includes("KvQuotaError"));
  const unmapped = errors.filter((name) =>
    name !== "PlatformError" && root(name) === "Error" && !(name in INTERNAL)
  );
  assert.deepEqual(unmapped, [], "error classes that could reach the edge unmapped");
  const stale = Object.keys(INTERNAL).filter((name) => !errors.includes(name));
  assert.deepEqual(stale, [], "INTERNAL lists classes that no longer exist");
});

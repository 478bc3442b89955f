/**
 * What `deno task test` needs beyond Deno, checked before the suite runs and brought where it
 * can be: Linux (the platform reads /proc), `redis-server` (the Redis-backed tests start their
 * own; installed with apt-get when missing and this user is root with apt), and a Chromium for
 * the Studio tests (Debian's, else the one inside the npm package `@sparticuz/chromium`, unpacked
 * and started here once so that a failure is reported before the suite). Anything missing is
 * named with how to get it, and the exit code is 1.
 */
import { findChromium } from "./chromium.ts";

/** Whether `command` is an executable file in a PATH folder. */
function onPath(command: string): boolean {
  return (Deno.env.get("PATH") ?? "").split(":").some((dir) => {
    try {
      return dir !== "" && Deno.statSync(`${dir}/${command}`).isFile;
    } catch {
      return false;
    }
  });
}

/** Runs a command with inherited output; answers whether it succeeded. */
async function run(command: string, args: string[]): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(command, {
      args,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdin: "null",
      stdout: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/** Answers null when redis-server is there (or was installed now), else what to do. */
async function redis(): Promise<string | null> {
  if (onPath("redis-server")) return null;
  const how = "install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: " +
    "brew install redis) or put a redis-server on PATH";
  if (Deno.uid() !== 0 || !onPath("apt-get")) {
    return `redis-server is missing (the Redis-backed tests start their own): ${how}`;
  }
  console.log("preflight: redis-server is missing; installing it with apt-get");
  if (
    await run("apt-get", ["update", "-qq"]) &&
    await run("apt-get", ["install", "-y", "-qq", "redis-server"])
  ) {
    if (onPath("redis-server")) return null;
  }
  return `redis-server is missing and apt-get could not install it: ${how}`;
}

/** Answers null when a Chromium starts, else what to do. */
async function chromium(): Promise<string | null> {
  const how = "install Debian's (apt-get install chromium), or check that the npm registry " +
    "is reachable for @sparticuz/chromium";
  try {
    const binary = await findChromium();
    const output = await new Deno.Command(binary.executablePath, {
      args: ["--headless", "--no-sandbox", "--version"],
      env: binary.env,
      clearEnv: true,
      stdin: "null",
    }).output();
    if (!output.success) {
      const why = new TextDecoder().decode(output.stderr).trim().split("\n")[0];
      return `Chromium (${binary.source}, ${binary.executablePath}) does not start: ${why}; ${how}`;
    }
    if (binary.source === "npm") {
      console.log(`preflight: no system Chromium; the Studio tests use @sparticuz/chromium's`);
    }
    return null;
  } catch (error) {
    return `no Chromium for the Studio tests: ${(error as Error).message}; ${how}`;
  }
}

if (Deno.build.os !== "linux") {
  console.error(
    `preflight: the platform runs on Linux only (it reads /proc); this is ${Deno.build.os}`,
  );
  Deno.exit(1);
}
const problems = [await redis(), await chromium()].filter((p) => p !== null);
for (const problem of problems) console.error(`preflight: ${problem}`);
if (problems.length > 0) Deno.exit(1);

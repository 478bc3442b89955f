/**
 * `deno task dev` as a user runs it (main.ts --dev, a subprocess on a real port): the admin key
 * it generates is kept in DATA_DIR and is the same after a restart, it is printed with the
 * Studio's URL, and `fn logs --follow` rides through the restart. A port in use is one line.
 */
import assert from "node:assert/strict";
import { freePort, json, waitFor, type WatchedProcess, watchProcess } from "./helpers.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const CLI = new URL("../cli/main.ts", import.meta.url).pathname;

/** A child process with a clean environment (no key of the test's own), output collected. */
function spawn(args: string[], env: Record<string, string>): WatchedProcess {
  return watchProcess(args, {
    env: {
      NO_COLOR: "1",
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "/",
      ...env,
    },
    clearEnv: true,
  });
}

Deno.test("deno task dev: a stable key in DATA_DIR, the Studio's URL, and fn logs --follow across a restart", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "fn-dev-server-" });
  const port = freePort();
  const serverEnv = {
    DATA_DIR: dataDir,
    PORT: String(port),
    HOST: "127.0.0.1",
    SPARE_SANDBOXES: "0",
  };
  const start = () => spawn(["run", "-A", MAIN, "--dev"], serverEnv);
  let server = start();
  let logs: ReturnType<typeof spawn> | undefined;
  try {
    const [, key] = await server.wait("the generated key", /export API_KEY=(\S+)/);
    await server.wait(
      "the Studio's URL",
      new RegExp(`Studio: http://127\\.0\\.0\\.1:${port}/studio`),
    );
    assert.match(
      server.output(),
      new RegExp(`generated the development key kept in ${dataDir}/admin.key`),
    );
    assert.equal((await Deno.readTextFile(`${dataDir}/admin.key`)).trim(), key);
    assert.equal((await Deno.stat(`${dataDir}/admin.key`)).mode! & 0o777, 0o600);
    const url = `http://127.0.0.1:${port}`;
    const auth = { authorization: `Bearer ${key}`, "content-type": "application/json" };
    const deployed = await fetch(`${url}/v1/apps/tail/deploy`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({
        source_files: {
          "api/say.ts":
            "export default (ctx) => { console.log('said ' + ctx.req.query.n); return { body: 'ok' }; };",
        },
      }),
    });
    await json(deployed, 201);
    const say = async (n: number) =>
      await (await fetch(`${url}/apps/tail/functions/say?n=${n}`)).text();

    logs = spawn(["run", "-A", CLI, "logs", "--app", "tail", "--follow"], {
      FN_URL: url,
      FN_API_KEY: key!,
      FN_CONFIG: "/nonexistent/fn.json",
    });
    await waitFor("the tail to print a line", async () => {
      await say(1);
      return /said 1/.test(logs!.output());
    }, 15_000);

    // A crash and a restart on the same DATA_DIR: the same key, and the tail goes on.
    await server.kill();
    await logs.wait(
      "the tail to say it lost the connection",
      /connection to .* lost; reconnecting/,
    );
    server = start();
    await server.wait("the restarted server", /Studio: http/);
    assert.match(
      server.output(),
      new RegExp(`using the development key kept in ${dataDir}/admin.key`),
    );
    assert.equal(server.output().match(/export API_KEY=(\S+)/)?.[1], key);
    assert.equal(await say(2), "ok");
    await logs.wait("the tail to reconnect", /reconnected to /);
    await logs.wait("the line logged across the restart", /said 2/);
    await say(3);
    await logs.wait("a line after the restart", /said 3/);
    assert.equal(logs.output().match(/said 2/g)?.length, 1, "no line is printed twice");

    // The platform's own server on a port in use: one line naming it, exit 2.
    const otherDir = await Deno.makeTempDir({ prefix: "fn-dev-server-" });
    try {
      const clash = spawn(["run", "-A", MAIN, "--dev"], { ...serverEnv, DATA_DIR: otherDir });
      const status = await clash.status();
      assert.equal(status.code, 2);
      assert.match(clash.output(), new RegExp(`port ${port} is in use: set PORT to another one`));
      assert.doesNotMatch(clash.output(), /\n\s+at /, "no stack trace");
    } finally {
      await Deno.remove(otherDir, { recursive: true });
    }
    // A second server on the same DATA_DIR: its embedded KV file is the first one's.
    const shared = spawn(["run", "-A", MAIN, "--dev"], { ...serverEnv, PORT: String(freePort()) });
    assert.equal((await shared.status()).code, 2);
    assert.match(
      shared.output(),
      /kv\.sqlite is in use by another running server: .* give this one a DATA_DIR of its own/,
    );
    assert.doesNotMatch(shared.output(), /\n\s+at /, "no stack trace");
  } finally {
    await logs?.kill("SIGTERM");
    await server.kill("SIGTERM");
    await Deno.remove(dataDir, { recursive: true });
  }
});

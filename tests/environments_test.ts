/**
 * Environments per app, from the tenant's side: past MAX_ENVIRONMENTS a deploy creating one more
 * is refused with 400 naming the budget; the admin (only) deletes a non-production environment,
 * with its deployments, live pointer, variables and cron jobs, but not the app's KV, and its
 * sandbox is stopped; on both backends, and through `fn env delete`.
 */
import assert from "node:assert/strict";
import { API_KEY, appId, backends, json, processRunning, waitFor } from "./helpers.ts";

const CLI = new URL("../cli/main.ts", import.meta.url).pathname;

const FILES = {
  "api/count.ts":
    `export const schedule = { cron: "0 0 1 1 *", environments: ["production", "e1", "e2"] };
export default async (ctx) => ({ body: { n: await ctx.kv.incr("n"), env: ctx.env.WHO ?? null } });`,
};

for (const [backend, test] of backends({ MAX_ENVIRONMENTS: "3" })) {
  test(`[${backend}] a deploy creating one environment too many is refused naming the budget`, async (s) => {
    const app = appId("envs");
    for (const environment of ["production", "e1", "e2"]) {
      await s.deployOk(app, FILES, { environment });
    }
    const refused = await json<{ error: string }>(
      await s.deploy(app, FILES, { environment: "e3" }),
      400,
    );
    assert.match(refused.error, /^environments per app: app ".*" has 3 environments/);
    assert.match(refused.error, /MAX_ENVIRONMENTS=3/);
    // An existing environment can still be redeployed.
    await s.deployOk(app, FILES, { environment: "e2" });
    const logged = await s.logs(app, "q=environments per app");
    assert.equal(logged.length, 1);
  });

  test(`[${backend}] the admin deletes a preview environment; the app's KV stays`, async (s) => {
    const app = appId("envdel");
    for (const environment of ["production", "e1", "e2"]) {
      await s.deployOk(app, FILES, { environment });
    }
    assert.equal((await s.setVar(app, "e2", "WHO", "preview")).status, 201);
    const e2 = (path: string) => s.request(`/apps/${app}/env/e2/functions${path}`);
    assert.deepEqual(await json(await e2("/count"), 200), { n: 1, env: "preview" });
    const { live } = await json<{ live: Record<string, string> }>(
      await s.api(`/apps/${app}/deployments`),
      200,
    );
    const pid = s.platform.sandboxes.pidOf(live.e2 ?? "");
    assert.ok(pid !== null, "e2 has no sandbox");

    // A per-app key may not; production may not be deleted; an unknown one is 404.
    const key = await json<{ key: string }>(
      await s.api(`/apps/${app}/keys`, { method: "POST" }),
      201,
    );
    const del = (env: string, k?: string) =>
      s.api(`/apps/${app}/environments/${env}`, { method: "DELETE", key: k });
    assert.equal((await del("e2", key.key)).status, 403);
    assert.match((await json<{ error: string }>(await del("production"), 400)).error, /production/);
    assert.equal((await del("nope")).status, 404);

    assert.equal((await del("e2")).status, 204);
    assert.equal((await e2("/count")).status, 404);
    await waitFor(
      "the deleted environment's sandbox to exit",
      async () => !(await processRunning(pid)),
      5000,
    );
    const { deployments } = await json<{ deployments: unknown[] }>(
      await s.api(`/apps/${app}/deployments?environment=e2`),
      200,
    );
    assert.equal(deployments.length, 0);
    assert.deepEqual(await json(await s.api(`/apps/${app}/environments/e2/vars`), 200), {
      vars: [],
    });
    const { schedules } = await json<{ schedules: Array<{ environment: string }> }>(
      await s.api(`/apps/${app}/schedules`),
      200,
    );
    assert.deepEqual(schedules.map((job) => job.environment).sort(), ["e1", "production"]);
    assert.equal((await del("e2")).status, 404);
    // The KV is the app's, not the environment's.
    assert.deepEqual(await json(await s.call(app, "/count"), 200), { n: 2, env: null });
    // Its place is free again.
    await s.deployOk(app, FILES, { environment: "e3" });
    const e3 = await s.request(`/apps/${app}/env/e3/functions/count`);
    assert.deepEqual(await json(e3, 200), { n: 3, env: null });
  });
}

const [[, embedded]] = backends({ MAX_ENVIRONMENTS: "3" });
embedded("fn env delete deletes an environment, and needs --env", async (s) => {
  const app = appId("envcli");
  await s.deployOk(app, FILES, { environment: "e1" });
  const run = async (args: string[]) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CLI, ...args],
      env: { NO_COLOR: "1", FN_CONFIG: "/nonexistent/fn.json", FN_URL: s.url, FN_API_KEY: API_KEY },
    }).output();
    return {
      code: output.code,
      out: new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr),
    };
  };
  const bare = await run(["env", "delete", "--app", app]);
  assert.equal(bare.code, 2, bare.out);
  assert.match(bare.out, /--env is required/);
  const done = await run(["env", "delete", "--app", app, "--env", "e1"]);
  assert.equal(done.code, 0, done.out);
  assert.match(done.out, /environment e1 of .* deleted/);
  assert.equal((await s.request(`/apps/${app}/env/e1/functions/count`)).status, 404);
});

import assert from "node:assert/strict";
import {
  appId,
  backends,
  json,
  rawHttp,
  startServer,
  type TestServer,
  waitFor,
} from "./helpers.ts";

/** Version `n` of an app whose route and library must always agree. */
function versioned(n: number): Record<string, string> {
  return {
    "lib/version.ts": `export const VERSION = ${n};`,
    "api/v.ts": `import { VERSION } from "../lib/version.ts";
const MINE = ${n};
export default () => ({ body: { lib: VERSION, mine: MINE } });`,
  };
}

async function version(s: TestServer, app: string, prefix = `/apps/${app}/functions`) {
  const body = await json<{ lib: number; mine: number }>(await s.request(`${prefix}/v`), 200);
  assert.equal(body.lib, body.mine, "a request saw files of two deployments");
  return body.mine;
}

interface Listed {
  id: string;
  environment: string;
  message: string | null;
  source: string | null;
  bundle_s3_key: string | null;
  deployed_by: string;
  created_at: string;
  routes: unknown[];
  source_files?: Record<string, string>;
}

interface Listing {
  deployments: Listed[];
  next_cursor: string | null;
}

for (const [backend, test, backendEnv] of backends()) {
  test(`[${backend}] every deploy is recorded, listed newest first with who deployed it`, async (s) => {
    const app = appId("hist");
    const ids: string[] = [];
    for (let n = 1; n <= 3; n++) {
      const extra = { message: `v${n}`, source: "cli_upload", bundle_s3_key: `b/${n}.zip` };
      ids.push((await s.deployOk(app, versioned(n), extra)).id);
    }
    const { deployments, next_cursor } = await json<Listing>(
      await s.api(`/apps/${app}/deployments`),
      200,
    );
    assert.deepEqual(deployments.map((d) => d.id), [...ids].reverse());
    assert.equal(next_cursor, null);
    const newest = deployments[0]!;
    assert.equal(newest.message, "v3");
    assert.equal(newest.source, "cli_upload");
    assert.equal(newest.bundle_s3_key, "b/3.zip");
    assert.equal(newest.deployed_by, "admin");
    assert.equal(newest.environment, "production");
    assert.deepEqual(newest.routes, [{ pattern: "/functions/v", file: "api/v.ts" }]);
    assert.equal(newest.source_files, undefined, "listings leave the files out");
  });

  test(`[${backend}] deployments are paged with a cursor and filtered by environment`, async (s) => {
    const app = appId("page");
    const ids: string[] = [];
    for (let n = 1; n <= 5; n++) {
      const environment = n % 2 ? "production" : "staging";
      ids.push((await s.deployOk(app, versioned(n), { environment })).id);
    }
    const first = await json<Listing>(await s.api(`/apps/${app}/deployments?limit=2`), 200);
    assert.deepEqual(first.deployments.map((d) => d.id), [ids[4], ids[3]]);
    const second = await json<Listing>(
      await s.api(`/apps/${app}/deployments?limit=2&cursor=${first.next_cursor}`),
      200,
    );
    assert.deepEqual(second.deployments.map((d) => d.id), [ids[2], ids[1]]);
    const last = await json<Listing>(
      await s.api(`/apps/${app}/deployments?limit=2&cursor=${second.next_cursor}`),
      200,
    );
    assert.deepEqual(last.deployments.map((d) => d.id), [ids[0]]);
    assert.equal(last.next_cursor, null);
    const staging = await json<Listing>(
      await s.api(`/apps/${app}/deployments?environment=staging`),
      200,
    );
    assert.deepEqual(staging.deployments.map((d) => d.id), [ids[3], ids[1]]);
    for (
      const [query, pattern] of [
        ["limit=0", /limit must be an integer from 1 to 100/],
        ["limit=abc", /limit must be an integer/],
        ["cursor=nope", /cursor must be the next_cursor/],
        ["environment=Bad_Env", /environment "Bad_Env" is invalid/],
      ] as const
    ) {
      const body = await json(await s.api(`/apps/${app}/deployments?${query}`), 400);
      assert.match(String(body.error), pattern, query);
    }
  });

  test(`[${backend}] one deployment is read with its files and routes`, async (s) => {
    const app = appId("one");
    const { id } = await s.deployOk(app, versioned(7), { message: "seven" });
    const body = await json<Listed>(await s.api(`/apps/${app}/deployments/${id}`), 200);
    assert.equal(body.id, id);
    assert.equal(body.message, "seven");
    assert.deepEqual(body.source_files, versioned(7));
    assert.deepEqual(body.routes, [{ pattern: "/functions/v", file: "api/v.ts" }]);
    const missing = await json(
      await s.api(`/apps/${app}/deployments/dpl_000000000000000000000000`),
      404,
    );
    assert.match(String(missing.error), /has no deployment dpl_0+/);
    // Another app's deployment id is not found through this app.
    await json(await s.api(`/apps/${appId("other")}/deployments/${id}`), 404);
  });

  test(`[${backend}] a rollback makes an earlier deployment live again`, async (s) => {
    const app = appId("roll");
    const first = await s.deployOk(app, versioned(1));
    await s.deployOk(app, versioned(2));
    assert.equal(await version(s, app), 2);
    const rolled = await json<Listed>(
      await s.api(`/apps/${app}/environments/production/rollback`, {
        json: { deployment_id: first.id },
      }),
      200,
    );
    assert.equal(rolled.id, first.id);
    assert.equal(await version(s, app), 1);
    // A rollback records no new deployment.
    const listing = await json<Listing>(await s.api(`/apps/${app}/deployments`), 200);
    assert.equal(listing.deployments.length, 2);
  });

  test(`[${backend}] a bad rollback is refused and the live deployment stays`, async (s) => {
    const app = appId("roll");
    const staging = await s.deployOk(app, versioned(1), { environment: "staging" });
    await s.deployOk(app, versioned(2));
    const rollback = (body: unknown) =>
      s.api(`/apps/${app}/environments/production/rollback`, { json: body });
    assert.match(
      String((await json(await rollback({ deployment_id: staging.id }), 400)).error),
      /belongs to environment "staging", not "production"/,
    );
    assert.match(
      String((await json(await rollback({}), 400)).error),
      /deployment_id is required/,
    );
    assert.match(
      String((await json(await rollback({ deployment_id: "dpl_nope" }), 404)).error),
      /has no deployment dpl_nope/,
    );
    assert.equal(await version(s, app), 2);
  });

  test(`[${backend}] each environment has its own live deployment and URLs`, async (s) => {
    const app = appId("envs");
    await s.deployOk(app, versioned(1));
    await s.deployOk(app, versioned(2), { environment: "staging" });
    await s.deployOk(app, versioned(3), { environment: "pr-42" });
    assert.equal(await version(s, app), 1);
    assert.equal(await version(s, app, `/apps/${app}/env/staging/functions`), 2);
    assert.equal(await version(s, app, `/apps/${app}/env/pr-42/functions`), 3);
    assert.equal(await version(s, app, `/apps/${app}/env/production/functions`), 1);
    const byHost = await rawHttp(
      s.url,
      `GET /functions/v HTTP/1.1\r\nHost: ${app}--staging.localhost\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(byHost.status, 200);
    assert.deepEqual(JSON.parse(byHost.body), { lib: 2, mine: 2 });
    const none = await json(await s.request(`/apps/${app}/env/qa/functions/v`), 404);
    assert.match(String(none.error), /no live deployment in environment "qa"/);
  });

  test(
    `[${backend}] 50 deploys in a row under load: no failed or mixed request, sandboxes back to one`,
    async () => {
      const s = await startServer({ env: await backendEnv() });
      try {
        const app = appId("atomic");
        await s.deployOk(app, versioned(0));
        let stop = false;
        let served = 0;
        const failures: string[] = [];
        const loaders = Array.from({ length: 8 }, async () => {
          while (!stop) {
            try {
              await version(s, app);
              served++;
            } catch (error) {
              failures.push((error as Error).message);
            }
          }
        });
        for (let n = 1; n <= 50; n++) await s.deployOk(app, versioned(n));
        stop = true;
        await Promise.all(loaders);
        assert.deepEqual(failures, []);
        assert.ok(served > 50, `only ${served} requests ran during the deploys`);
        assert.equal(await version(s, app), 50);
        await waitFor(
          "old sandboxes to drain",
          () => Promise.resolve(s.platform.sandboxes.stats().live === 1),
          5000,
        );
      } finally {
        await s.close();
      }
    },
  );

  test(`[${backend}] a request running during a deploy finishes on the old code`, async (s) => {
    const app = appId("inflight");
    const slow = (n: number) => ({
      ...versioned(n),
      "api/slow.ts": `export default async () => {
        await new Promise((r) => setTimeout(r, 500));
        return { body: { v: ${n} } };
      };`,
    });
    await s.deployOk(app, slow(1));
    const running = s.call(app, "/slow");
    await new Promise((resolve) => setTimeout(resolve, 100));
    await s.deployOk(app, slow(2));
    assert.equal(await version(s, app), 2, "new requests run the new code at once");
    assert.deepEqual(await json(await running, 200), { v: 1 });
  });

  test(`[${backend}] concurrent deploys all land and the last to finish is live`, async (s) => {
    const app = appId("race");
    const finished: number[] = [];
    const bodies = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const body = await s.deployOk(app, versioned(i + 1));
        finished.push(i + 1);
        return body;
      }),
    );
    const listing = await json<Listing>(await s.api(`/apps/${app}/deployments`), 200);
    assert.deepEqual(
      new Set(listing.deployments.map((d) => d.id)),
      new Set(bodies.map((b) => b.id)),
    );
    for (const { id } of bodies) {
      const one = await json<Listed>(await s.api(`/apps/${app}/deployments/${id}`), 200);
      assert.ok(one.source_files?.["api/v.ts"], `deployment ${id} is whole`);
    }
    assert.equal(await version(s, app), finished.at(-1));
  });
}

/**
 * Live deployments are held on disk and in their sandbox, not in the host's memory (README
 * "Budgets"): ten environments of a 4 MB app, each deployed and called, then called again after
 * their sandboxes were evicted (a reload from the store), grow the host's RSS (read from /proc
 * after a full collection) and its heap by far less than their files, modules and source maps
 * took when every live deployment was held whole.
 */
import assert from "node:assert/strict";
import { appId, json, startServer } from "../helpers.ts";
import { sampleProcess } from "../../runtime/sandbox/host/proc.ts";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

const MB = 1024 * 1024;

setFlagsFromString("--expose-gc");
/** V8's full collection: what is measured is what is held, not garbage not yet collected. */
const collect = runInNewContext("gc") as () => void;

/** The host's resident memory after a full collection, from /proc, in MB. */
async function hostRssMb(): Promise<number> {
  collect();
  return (await sampleProcess(Deno.pid))!.rssBytes / MB;
}

Deno.test("ten live environments of a 4 MB app do not hold their code in the host's memory", async () => {
  const s = await startServer({ env: { MAX_SANDBOXES: "4" } });
  try {
    const app = appId("big");
    // 4 MB of source in one string, kept in the module so the bundle and its map are as large.
    const files = {
      "api/big.ts": `const DATA = "${"x".repeat(4 * MB)}";
export default () => ({ body: DATA.length });`,
    };
    const environments = Array.from({ length: 10 }, (_, i) => i === 0 ? "production" : `e${i - 1}`);
    const path = (environment: string) =>
      environment === "production"
        ? `/apps/${app}/functions/big`
        : `/apps/${app}/env/${environment}/functions/big`;
    // One deploy first, so the compile pool and the first request's caches are in the baseline.
    await s.deployOk(app, files, { environment: "e0" });
    const before = await hostRssMb();
    const heapBefore = Deno.memoryUsage().heapUsed / MB;
    for (const environment of environments) {
      await s.deployOk(app, files, { environment });
      assert.equal(await json(await s.request(path(environment)), 200), 4 * MB);
    }
    // Four slots for ten environments: most were evicted, and each reloads its code.
    for (const environment of environments) {
      assert.equal(await json(await s.request(path(environment)), 200), 4 * MB);
    }
    const grown = await hostRssMb() - before;
    const heapGrown = Deno.memoryUsage().heapUsed / MB - heapBefore;
    // Held whole, they took 73 MB of heap and 118 MB of RSS here; the rest of RSS's growth is
    // pages V8 and malloc keep for reuse after the 12 MB loads.
    assert.ok(heapGrown < 30, `the host's heap grew ${heapGrown.toFixed(0)} MB`);
    assert.ok(grown < 100, `the host's RSS grew ${grown.toFixed(0)} MB`);
  } finally {
    await s.close();
  }
});

/**
 * A log flood at the documented per-request maximum, from many requests at once: the host keeps
 * at most the app's budget of lines per window (and sheds what its store cannot take), so its
 * memory stays bounded and another app keeps answering. Serial: it loads both cores.
 */
import assert from "node:assert/strict";
import { appId, probing, startServer, victimPath, waitFor } from "../helpers.ts";
import { sampleProcess } from "../../runtime/sandbox/host/proc.ts";

Deno.test({
  name: "a log flood from many requests is held to the app's budget, with memory bounded",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // A 3 s budget window, so the drop report comes soon after the flood.
    const s = await startServer({ env: { LOG_BUDGET_WINDOW_MS: "3000" } });
    try {
      const app = appId("flood");
      await s.deployOk(app, {
        "api/flood.ts": `export default () => {
          const line = "x".repeat(250);
          for (let i = 0; i < 1000; i++) console.log(line);
          return { body: "ok" };
        };`,
      });
      const before = (await sampleProcess(Deno.pid))!.rssBytes;
      let peak = before;
      let requests = 0;
      const until = Date.now() + 2000;
      await probing(s, await victimPath(s), async () => {
        await Promise.all(Array.from({ length: 32 }, async () => {
          while (Date.now() < until) {
            await (await fetch(`${s.url}/apps/${app}/functions/flood`)).text();
            requests++;
            peak = Math.max(peak, (await sampleProcess(Deno.pid))?.rssBytes ?? 0);
          }
        }));
      });
      const grownMb = (peak - before) / 1024 / 1024;
      assert.ok(requests > 32, `only ${requests} requests`);
      // Unbounded, this flood grew the host by about 325 MB in these 2 s (about 30 MB bounded).
      assert.ok(
        grownMb < 150,
        `the host grew by ${grownMb.toFixed(0)} MB over ${requests} requests`,
      );
      await waitFor("the drop report", async () => {
        const entries = await s.logs(app, "q=were%20dropped&limit=5");
        return entries.some((e) =>
          /an app may write 20000 lines and \d+ characters per 3 s/.test(e.message)
        );
      }, 15_000);
    } finally {
      await s.close();
    }
  },
});

/**
 * Stops proven by their effect on the whole process tree: after each stop, the test process and
 * every process under it go idle. Reading the whole tree's CPU needs the process to itself, so
 * these run after the parallel suite, alone (`deno task test`).
 */
import assert from "node:assert/strict";
import {
  appId,
  json,
  processRunning,
  startServer,
  suite,
  treeCpuOver,
  waitFor,
} from "../helpers.ts";

/** The CPU a spinning thread would use in the window is ~1000 ms; idle is ~0. */
const IDLE_CPU_MS = 400;

/** Asserts that the whole process tree uses (almost) no CPU over the next second. */
async function assertTreeIdle(): Promise<void> {
  const cpu = await treeCpuOver(1000);
  assert.ok(cpu < IDLE_CPU_MS, `the process tree used ${cpu} ms of CPU in 1 s after the stop`);
}

/** A server with a 1 s time limit. */
const stops = suite(() => startServer({ env: { FUNCTION_TIMEOUT_MS: "1000" } }));
/** A server with the 1.5 s time limit of the waitUntil tests. */
const waitUntilStops = suite(() => startServer({ env: { FUNCTION_TIMEOUT_MS: "1500" } }));

stops(
  "after a timed-out busy loop the sandbox process is gone and the process tree is idle",
  async (s) => {
    const app = appId("spin");
    const { id } = await s.deployOk(app, {
      "api/spin.ts": "export default () => { while (true) {} };",
      "api/ok.ts": "export default () => ({ body: 'ok' });",
    });
    const pid = s.platform.sandboxes.pidOf(id);
    assert.ok(pid !== null);
    const timeouts = s.platform.sandboxes.stats().stops.timeout ?? 0;
    await json(await s.call(app, "/spin"), 504);
    assert.equal(s.platform.sandboxes.stats().stops.timeout, timeouts + 1);
    assert.equal(await processRunning(pid), false, "the sandbox process has exited by the 504");
    assert.equal(s.platform.sandboxes.pidOf(id), null);
    await assertTreeIdle();
    assert.equal(await (await s.call(app, "/ok")).text(), "ok");
  },
);

stops(
  "code left spinning in a timer after the response is stopped, and the tree goes idle",
  async (s) => {
    const app = appId("timer");
    await s.deployOk(app, {
      "api/leak.ts":
        "export default () => { setTimeout(() => { while (true) {} }, 50); return { body: 'sent' }; };",
      "api/ok.ts": "export default () => ({ body: 'ok' });",
    });
    assert.equal(await (await s.call(app, "/leak")).text(), "sent");
    await waitFor("the idle-CPU stop to be logged", async () => {
      const entries = await s.logs(app, "level=error");
      return entries.some((e) => /kept running with no request in flight/.test(e.message));
    }, 15_000);
    await assertTreeIdle();
    assert.equal(await (await s.call(app, "/ok")).text(), "ok");
  },
);

waitUntilStops(
  "waitUntil work past the time limit is stopped like any overrun, and the log says so",
  async (s) => {
    const app = appId("wait");
    const { id } = await s.deployOk(app, {
      // Background work that spins: only killing its process stops it.
      "api/forever.ts": `export default (ctx) => {
      ctx.waitUntil(new Promise(() => setTimeout(() => { while (true) {} }, 50)));
      return { body: "ok" };
    };`,
      "api/ok.ts": "export default () => ({ body: 'fine' })",
    });
    const pid = s.platform.sandboxes.pidOf(id)!;
    const response = await s.call(app, "/forever");
    const requestId = response.headers.get("x-request-id")!;
    assert.equal(await response.text(), "ok");
    await waitFor("the overrun's log entry", async () => {
      const entries = await s.logs(app, `request_id=${requestId}&level=error`);
      return entries.some((e) =>
        /ran past the request.s time limit of 1500 ms; it was stopped with its sandbox/.test(
          e.message,
        )
      );
    }, 6000);
    await waitFor("the sandbox process to exit", async () => !(await processRunning(pid)), 3000);
    await assertTreeIdle();
    assert.equal(await (await s.call(app, "/ok")).text(), "fine");
  },
);

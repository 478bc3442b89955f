/**
 * What a tenant's bytes may cost the shared host, tried from the attacker's side with another
 * app probed meanwhile (it must answer within 1 s): deeply nested JSON in an API body or in a
 * frame its sandbox forges, KV replies its sandbox asks for and never reads, and schedules its
 * code reports by the thousand. Each is refused or bounded before the host does the work.
 */
import assert from "node:assert/strict";
import { API_KEY, appId, json, probing, startServer, victimPath } from "../helpers.ts";
import { sampleProcess } from "../../runtime/sandbox/host/proc.ts";
import { alive, until } from "../compile_probe.ts";

const MB = 1024 * 1024;

Deno.test("a 14 MB deploy body nested 7 million levels deep is refused at once, naming the depth", async () => {
  const s = await startServer();
  try {
    const victim = await victimPath(s);
    const depth = 7_000_000;
    const body = `{"source_files":{"api/a.ts":"export default () => ({})"},"x":${
      "[".repeat(depth)
    }${"]".repeat(depth)}}`;
    const { result } = await probing(
      s,
      victim,
      async () =>
        await fetch(`${s.url}/v1/apps/${appId("nested")}/deploy`, {
          method: "POST",
          headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
          body,
        }),
    );
    const refused = await json<{ error: string }>(result, 400);
    assert.match(refused.error, /the request body nests more than 64 levels deep/);
  } finally {
    await s.close();
  }
});

Deno.test("a 15 MB deploy body of 2 million shallow arrays is refused at once, naming the count", async () => {
  const s = await startServer();
  try {
    const victim = await victimPath(s);
    // Only 3 deep, but each array costs the parser what a hundred flat bytes do: 1.4 s.
    const body = `{"source_files":{"api/a.ts":"export default () => ({})"},"x":[${
      Array(2_000_000).fill("[[]]").join(",")
    }]}`;
    const { result } = await probing(
      s,
      victim,
      async () =>
        await fetch(`${s.url}/v1/apps/${appId("shallow")}/deploy`, {
          method: "POST",
          headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
          body,
        }),
    );
    const refused = await json<{ error: string }>(result, 400);
    assert.match(refused.error, /the request body holds more than 4096 arrays and objects/);
  } finally {
    await s.close();
  }
});

Deno.test("a sandbox that forges a deeply nested frame is stopped, and the host parses none of it", async () => {
  const s = await startServer();
  try {
    const victim = await victimPath(s);
    const app = appId("forger");
    // The tenant's code rewrites its own KV call frames (it controls JSON.stringify), padding
    // each with 1.9 million levels of arrays: about 0.45 s of the host's parsing each.
    const deployed = await s.deployOk(app, {
      "api/flood.ts": `
        const original = JSON.stringify;
        const pad = "[".repeat(1_900_000) + "]".repeat(1_900_000);
        JSON.stringify = function (value, ...rest) {
          const text = original.call(JSON, value, ...rest);
          return value && value.t === "call" ? text.slice(0, -1) + ',"pad":' + pad + "}" : text;
        };
        export default async (ctx) => {
          for (let i = 0; i < 20; i++) await Promise.all([ctx.kv.get("x"), ctx.kv.get("y")]);
          return { body: "not reached" };
        };`,
    });
    const pid = s.platform.sandboxes.pidOf(deployed.id);
    assert.ok(pid !== null, "the deploy warmed a sandbox");
    const { result } = await probing(s, victim, async () => await s.call(app, "/flood"));
    const failed = await json<{ error: string }>(result, 503);
    assert.match(failed.error, /sandbox/);
    // Stopped by its effect: the process is gone.
    await until("the forger's sandbox to exit", () => !alive(pid!));
    // The shallow form: a console line's frame padded with 250,000 small objects, 2 deep.
    await s.deployOk(app, {
      "api/flood.ts": `
        const original = JSON.stringify;
        const pad = "[" + Array.from({ length: 250_000 }, (_, i) => '{"k' + i + '":1}').join(",") + "]";
        JSON.stringify = function (value, ...rest) {
          const text = original.call(JSON, value, ...rest);
          return value && value.t === "log" ? text.slice(0, -1) + ',"pad":' + pad + "}" : text;
        };
        export default async () => {
          for (let i = 0; i < 20; i++) console.log("x");
          return { body: "not reached" };
        };`,
    });
    const shallow = await probing(s, victim, async () => await s.call(app, "/flood"));
    const text = await shallow.result.text();
    assert.equal(shallow.result.status, 503, text);
    const logs = await json<{ entries: Array<{ message: string }> }>(
      await s.api(`/apps/${app}/logs?limit=50`),
      200,
    );
    for (
      const problem of [
        /nests more than 32 levels deep/,
        /holds more than 1024 (arrays and objects|object keys)/,
      ]
    ) {
      assert.ok(
        logs.entries.some((e) =>
          /broke the wire protocol \(a frame header/.test(e.message) && problem.test(e.message)
        ),
        JSON.stringify(logs.entries.map((e) => e.message)),
      );
    }
  } finally {
    await s.close();
  }
});

Deno.test("an honest KV call with arguments nested 40 deep is refused to its handler, and its sandbox serves on", async () => {
  const s = await startServer();
  try {
    const app = appId("nested-arg");
    await s.deployOk(app, {
      "api/x.ts": `export default async (ctx) => {
        let value = {};
        for (let i = 0; i < 40; i++) value = { next: value };
        const refused = await ctx.kv.set("k", value).then(() => "stored", (e) => e.message);
        return { body: { refused, other: await ctx.kv.get("absent") } };
      };`,
    });
    const answer = await json<{ refused: string; other: null }>(await s.call(app, "/x"), 200);
    assert.match(answer.refused, /kv\.set: arguments must be .*nest more than 16 levels deep/);
    assert.equal(answer.other, null);
  } finally {
    await s.close();
  }
});

Deno.test("one request's 600 concurrent KV calls all answer: the host reads slower past 256 open, it refuses none", async () => {
  const s = await startServer();
  try {
    const app = appId("many-calls");
    await s.deployOk(app, {
      "api/x.ts": `export default async (ctx) => {
        await Promise.all(Array.from({ length: 600 }, (_, i) => ctx.kv.set("k" + i, String(i))));
        const values = await Promise.all(Array.from({ length: 600 }, (_, i) => ctx.kv.get("k" + i)));
        return { body: values.every((v, i) => v === String(i)) };
      };`,
    });
    assert.equal(await json(await s.call(app, "/x"), 200), true);
  } finally {
    await s.close();
  }
});

Deno.test("KV works when the reply budget is set below one largest reply (2 MB per app)", async () => {
  const s = await startServer({ env: { REQUEST_BODY_BYTES_PER_APP: String(2 * MB) } });
  try {
    const app = appId("small-budget");
    await s.deployOk(app, {
      "api/x.ts": `export default async (ctx) => {
        await ctx.kv.set("k", "v");
        return { body: await ctx.kv.get("k") };
      };`,
    });
    assert.equal(await (await s.call(app, "/x")).text(), "v");
  } finally {
    await s.close();
  }
});

Deno.test("KV replies a sandbox never reads are held up to the app's budget, then refused", async () => {
  const s = await startServer();
  try {
    const victim = await victimPath(s);
    const app = appId("pile");
    await s.deployOk(app, {
      "api/setup.ts": `export default async (ctx) => {
        for (let i = 0; i < 3; i++) await ctx.kv.set("big" + i, "x".repeat(1024 * 1024));
        return { body: "ready" };
      };`,
      // 400 reads of 3 MB each, then the sandbox stops reading for 3 s.
      "api/pile.ts": `export default async (ctx) => {
        const calls = Array.from({ length: 400 }, () =>
          ctx.kv.getMany(["big0", "big1", "big2"]).then(() => "ok", (e) => e.message));
        await new Promise((resolve) => setTimeout(resolve, 50));
        const end = Date.now() + 3000;
        while (Date.now() < end) { /* not reading */ }
        const answers = await Promise.all(calls);
        return { body: { ok: answers.filter((a) => a === "ok").length, refused: answers.filter((a) => a !== "ok") } };
      };`,
    });
    assert.equal(await (await s.call(app, "/setup")).text(), "ready");
    const before = (await sampleProcess(Deno.pid))!.rssBytes;
    let peak = before;
    const watch = setInterval(async () => {
      peak = Math.max(peak, (await sampleProcess(Deno.pid))?.rssBytes ?? 0);
    }, 50);
    const { result } = await probing(s, victim, async () => await s.call(app, "/pile"));
    clearInterval(watch);
    const answer = await json<{ ok: number; refused: string[] }>(result, 200);
    assert.ok(answer.ok > 0, "the replies within the budget arrive");
    assert.ok(answer.refused.length > 0, "the rest are refused");
    assert.match(
      answer.refused[0]!,
      /kv\.getMany: the sandbox has not yet read the KV replies it asked for: this app holds \d+ bytes of KV replies its sandboxes have not read yet; the budget is 33554432 per app at once/,
    );
    const grownMb = (peak - before) / MB;
    assert.ok(grownMb < 300, `the host grew by ${grownMb.toFixed(0)} MB`);
  } finally {
    await s.close();
  }
});

Deno.test("apps that never read their KV replies cannot fill the budget for the others", async () => {
  // 8 MB per app, 16 MB in all: two hoarders fill the total.
  const s = await startServer({
    env: { REQUEST_BODY_BYTES_PER_APP: String(8 * MB), REQUEST_BODY_BYTES_TOTAL: String(16 * MB) },
  });
  try {
    const hoard = {
      "api/setup.ts": `export default async (ctx) => {
        for (let i = 0; i < 3; i++) await ctx.kv.set("big" + i, "x".repeat(1024 * 1024));
        return { body: "ready" };
      };`,
      "api/hoard.ts": `export default async (ctx) => {
        const calls = Array.from({ length: 6 }, () =>
          ctx.kv.getMany(["big0", "big1", "big2"]).then(() => "ok", (e) => e.message));
        await new Promise((resolve) => setTimeout(resolve, 50));
        const end = Date.now() + 2500;
        while (Date.now() < end) { /* not reading */ }
        return { body: await Promise.all(calls) };
      };`,
    };
    const hoarders = [appId("hoard-a"), appId("hoard-b")];
    for (const app of hoarders) {
      await s.deployOk(app, hoard);
      assert.equal(await (await s.call(app, "/setup")).text(), "ready");
    }
    const victim = appId("reads");
    await s.deployOk(victim, {
      "api/r.ts": `export default async (ctx) => {
        await ctx.kv.set("k", "small");
        return { body: await ctx.kv.get("k") };
      };`,
    });
    const hoarding = hoarders.map((app) => s.call(app, "/hoard"));
    await new Promise((resolve) => setTimeout(resolve, 800));
    assert.equal(s.platform.sandboxes.stats().live >= 3, true);
    const read = await s.call(victim, "/r");
    assert.equal(await read.text(), "small", "another app's read is answered meanwhile");
    const answers = await Promise.all(hoarding.map(async (r) => json<string[]>(await r, 200)));
    assert.ok(answers.flat().some((a) => /KV replies/.test(a)), "the hoarders were refused");
  } finally {
    await s.close();
  }
});

Deno.test("schedules past 50 per deployment are refused before any is parsed, reported or forged", async () => {
  const s = await startServer();
  try {
    const victim = await victimPath(s);
    // Feb 30 never comes: finding that takes the cron parser milliseconds per expression.
    const never = `export const schedule = { cron: "0 0 0 30 2 *", timezone: "America/New_York" };
      export default () => ({});`;
    const files = Object.fromEntries(
      Array.from({ length: 60 }, (_, i) => [`api/job${i}.ts`, never]),
    );
    // The forged form: the module rewrites its load report to declare 10,000 schedules.
    const forged = {
      "api/x.ts": `
        const original = JSON.stringify;
        JSON.stringify = function (value, ...rest) {
          if (value && value.t === "loaded") {
            const parts = [];
            for (let i = 0; i < 10000; i++) parts.push('"f' + i + '":{"cron":"0 0 0 30 2 *"}');
            return '{"t":"loaded","schedules":{' + parts.join(",") + "}}";
          }
          return original.call(JSON, value, ...rest);
        };
        export default () => ({ body: "x" });`,
    };
    await probing(s, victim, async () => {
      const refused = await json<{ error: string }>(await s.deploy(appId("cron"), files), 400);
      assert.match(
        refused.error,
        /schedule: more than 50 files export a schedule; the limit is 50 per deployment/,
      );
      // The forged report holds more than a frame may: a broken frame, so no deploy either.
      const forgedAnswer = await s.deploy(appId("cron"), forged);
      assert.ok(forgedAnswer.status >= 400, `the forged deploy answered ${forgedAnswer.status}`);
      await forgedAnswer.body?.cancel();
    });
  } finally {
    await s.close();
  }
});

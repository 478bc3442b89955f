/**
 * `deno task test:container` (outside the default suite: it builds images and takes a minute or
 * more). Builds the Dockerfile's image with podman and boots compose.yaml's topology on host
 * networking (topology.ts), then proves: the image runs as non-root; its health check passes on
 * the configured port; a deploy through nginx is served by both replicas; with one replica killed
 * under load no acknowledged deploy or KV write is lost and nginx routes around it; everything
 * survives a restart of everything; and memory-derived defaults follow `--memory`. Needs podman, runc, debootstrap and npm (README "Containers").
 */
import assert from "node:assert/strict";
import { buildImages } from "./images.ts";
import { LIMITS, missingTools, podman, podmanOk } from "./podman.ts";
import {
  boot,
  type Layout,
  newLayout,
  removeAll,
  type Settings,
  type Topology,
} from "./topology.ts";

const SETTINGS: Settings = {
  API_KEY: `ct-admin-${crypto.randomUUID()}`,
  SECRETS_KEY: btoa("c".repeat(32)),
  REDIS_PASSWORD: `ct-redis-${crypto.randomUUID()}`,
};
const APP = "ct-app";

const FILES = (version: number) => ({
  "api/v.ts": `export default () => ({ body: { v: ${version} } })`,
  "api/put.ts": `export default async (ctx) => {
    await ctx.kv.set(ctx.req.query.k, ctx.req.query.v);
    return { body: { ok: true } };
  }`,
  "api/get.ts":
    `export default async (ctx) => ({ body: { v: await ctx.kv.get(ctx.req.query.k) } })`,
});

function api(base: string, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${base}/v1${path}`, {
    ...init,
    headers: { authorization: `Bearer ${SETTINGS.API_KEY}`, "content-type": "application/json" },
    signal: AbortSignal.timeout(10_000),
  });
}

async function deploy(base: string, version: number): Promise<string | null> {
  const response = await api(base, `/apps/${APP}/deploy`, {
    method: "POST",
    body: JSON.stringify({ source: "container-test", source_files: FILES(version) }),
  }).catch(() => null);
  if (response?.status !== 201) {
    await response?.body?.cancel();
    return null;
  }
  return (await response.json()).id;
}

async function call(base: string, path: string): Promise<Response | null> {
  return await fetch(`${base}/apps/${APP}/functions${path}`, {
    signal: AbortSignal.timeout(10_000),
  })
    .catch(() => null);
}

async function served(base: string): Promise<number | null> {
  const response = await call(base, "/v");
  return response?.ok ? (await response.json()).v : null;
}

async function until(what: string, probe: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

Deno.test({
  name: "the Dockerfile's image boots compose.yaml's topology and keeps every acknowledged write",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const missing = await missingTools();
    assert.deepEqual(missing, [], `install them first: apt-get install ${missing.join(" ")}`);
    const images = await buildImages();
    const layout: Layout = await newLayout();
    let topology: Topology | null = null;
    try {
      topology = await boot(images, layout, SETTINGS);
      const { replicas, url } = topology;
      const direct = replicas.map((r) => `http://127.0.0.1:${r.port}`);

      await t.step("the image runs as the non-root deno user", async () => {
        const user = await podmanOk([
          "image",
          "inspect",
          images.platform,
          "--format",
          "{{.Config.User}}",
        ]);
        assert.equal(user.trim(), "deno");
        for (const replica of replicas) {
          assert.equal((await podmanOk(["exec", replica.name, "id", "-u"])).trim(), "1993");
          const top = await podmanOk(["top", replica.name, "user", "args"]);
          assert.ok(!/^root\s/m.test(top), `nothing in ${replica.name} runs as root:\n${top}`);
        }
      });

      await t.step("the image's health check passes on the configured port, not 8000", async () => {
        for (const replica of replicas) {
          assert.notEqual(replica.port, 8000);
          const run = await podman(["healthcheck", "run", replica.name]);
          assert.equal(
            run.code,
            0,
            `podman healthcheck run ${replica.name}: ${run.stdout}${run.stderr}`,
          );
          assert.ok(await topology!.healthy(replica), "compose's health check passes too");
        }
      });

      await t.step("memory-derived defaults come from the container's limit", async () => {
        const defaults = async (options: string[]) => {
          const script = `import { loadConfig } from "/app/runtime/platform/config.ts";
            const c = loadConfig({ API_KEY: "x".repeat(20) });
            console.log(JSON.stringify({ memory: c.memory, max: c.sandboxes.max, compile: c.compileMemoryMb }));`;
          const out = await podmanOk([
            "run",
            "--rm",
            ...LIMITS,
            "--network",
            "host",
            ...options,
            images.platform,
            "deno",
            "eval",
            script,
          ]);
          return JSON.parse(out.trim().split("\n").at(-1)!);
        };
        const small = await defaults(["--memory", "1g"]);
        assert.equal(small.memory.bytes, 1024 ** 3);
        assert.match(small.memory.source, /^cgroup v[12]$/);
        assert.equal(small.compile, 256);
        const unlimited = await defaults([]);
        assert.ok(unlimited.memory.bytes > small.memory.bytes, "without --memory, more memory");
        assert.ok(
          small.max < unlimited.max,
          `${small.max} sandboxes in 1 GB, ${unlimited.max} on the host`,
        );
      });

      await t.step("a deploy through nginx is served by both replicas", async () => {
        assert.ok(await deploy(url, 1), "the deploy through nginx answered 201");
        for (const base of direct) {
          await until(`${base} serves v1`, async () => await served(base) === 1);
        }
        assert.equal(await served(url), 1);
      });

      await t.step(
        "a replica killed under load loses no acknowledged deploy or KV write",
        async () => {
          const deploys: Array<{ id: string; version: number }> = [];
          const writes: string[] = [];
          const failuresAfter: string[] = [];
          let killedAt = Infinity;
          let stop = false;
          const deployLoop = (async () => {
            for (let version = 2; !stop; version++) {
              const started = Date.now();
              const id = await deploy(url, version);
              if (id) deploys.push({ id, version });
              else if (started > killedAt + 1000) failuresAfter.push(`deploy v${version}`);
            }
          })();
          const writeLoops = [0, 1, 2, 3].map(async (lane) => {
            for (let i = 0; !stop; i++) {
              const key = `k${lane}-${i}`;
              const started = Date.now();
              const response = await call(url, `/put?k=${key}&v=${key}`);
              if (response?.ok) writes.push(key);
              else if (started > killedAt + 1000) {
                failuresAfter.push(`put ${key} (${response?.status})`);
              }
              await response?.body?.cancel();
            }
          });
          await new Promise((resolve) => setTimeout(resolve, 1500));
          killedAt = Date.now();
          await podmanOk(["kill", "--signal", "KILL", replicas[0].name]);
          await new Promise((resolve) => setTimeout(resolve, 4000));
          stop = true;
          await Promise.all([deployLoop, ...writeLoops]);

          assert.ok(
            deploys.length >= 3 && writes.length >= 50,
            `${deploys.length} deploys, ${writes.length} writes`,
          );
          assert.deepEqual(
            failuresAfter,
            [],
            "after the kill, nginx sent everything to the live replica",
          );
          for (const { id } of deploys) {
            const response = await api(url, `/apps/${APP}/deployments/${id}`);
            assert.equal(response.status, 200, `acknowledged deployment ${id} is kept`);
            await response.body?.cancel();
          }
          const last = deploys.at(-1)!;
          assert.equal(await served(url), last.version, "the last acknowledged deploy is live");
          for (const key of writes) {
            const response = await call(url, `/get?k=${key}`);
            assert.equal((await response!.json()).v, key, `acknowledged write ${key} is kept`);
          }
          console.log(
            `  ${deploys.length} deploys and ${writes.length} KV writes acknowledged around the kill`,
          );
        },
      );

      await t.step("everything survives a restart of everything", async () => {
        const version = (await served(url))!;
        const id =
          (await (await api(url, `/apps/${APP}/deployments?limit=1`)).json()).deployments[0].id;
        await topology!.stop();
        topology = await boot(images, layout, SETTINGS);
        for (const base of direct) {
          await until(
            `${base} serves v${version} again`,
            async () => await served(base) === version,
          );
        }
        const listed = await (await api(topology.url, `/apps/${APP}/deployments?limit=1`)).json();
        assert.equal(listed.deployments[0].id, id);
        const response = await call(topology.url, "/get?k=k0-0");
        assert.equal((await response!.json()).v, "k0-0");
      });
    } finally {
      await topology?.stop().catch(() => {});
      await removeAll(layout);
      await Deno.remove(layout.nginxDir, { recursive: true }).catch(() => {});
      // Redis wrote its files as root inside the container; remove them from a container too.
      await podman(["unshare", "rm", "-rf", layout.redisData]);
      await Deno.remove(layout.redisData, { recursive: true }).catch(() => {});
    }
  },
});

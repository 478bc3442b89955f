/**
 * compose.yaml's topology, translated to podman on host networking: Redis, two platform replicas
 * and nginx, each as compose.yaml defines it (command, environment, health check, nginx's file),
 * with what host networking changes: every service listens on its own free port of 127.0.0.1
 * instead of its compose port, service names become 127.0.0.1, and nginx's upstream names the
 * replicas' ports instead of re-resolving their names (`resolve` needs nginx 1.27.3; Debian's is
 * 1.22, and host ports do not move). Redis keeps its data in a host folder, so a restart of
 * everything finds it again.
 */
import { parse } from "yaml";
import { freePort } from "../helpers.ts";
import type { Images } from "./images.ts";
import { LIMITS, podman, podmanOk } from "./podman.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** A compose service as far as this translation reads it. */
interface ComposeService {
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
}

/** Settings compose.yaml interpolates (`${NAME}`, `${NAME:?…}`, `${NAME:-default}`). */
export type Settings = Record<string, string>;

/** Replaces compose's `${…}` forms with `settings`; a required one that is unset throws. */
export function interpolate(text: string, settings: Settings): string {
  return text.replace(/\$\{(\w+)(?::([?-])([^}]*))?\}/g, (_, name, mode, rest) => {
    const value = settings[name];
    if (value !== undefined && value !== "") return value;
    if (mode === "-") return rest;
    throw new Error(`compose.yaml needs ${name}: ${rest}`);
  });
}

/** One started container: its name, and its port on 127.0.0.1. */
export interface Running {
  name: string;
  port: number;
}

/** The booted topology. */
export interface Topology {
  redis: Running;
  replicas: [Running, Running];
  lb: Running;
  /** The load balancer's base URL. */
  url: string;
  /** Runs a service's compose health check inside its container; true if it passes. */
  healthy(service: Running): Promise<boolean>;
  /** Stops every container gracefully (SIGTERM, then their stop grace) and removes them. */
  stop(): Promise<void>;
}

/** Ports and folders that stay the same when the topology is started again. */
export interface Layout {
  id: string;
  redisPort: number;
  replicaPorts: [number, number];
  lbPort: number;
  /** Host folder mounted as Redis's /data. */
  redisData: string;
  /** Host folder with the translated nginx configuration. */
  nginxDir: string;
}

/** A fresh layout: free ports and new folders. */
export async function newLayout(): Promise<Layout> {
  const redisData = await Deno.makeTempDir({ prefix: "fn-ct-redis-" });
  // Redis in the container runs as root; the folder must be writable by it whatever the umask.
  await Deno.chmod(redisData, 0o777);
  return {
    id: crypto.randomUUID().slice(0, 8),
    redisPort: freePort(),
    replicaPorts: [freePort(), freePort()],
    lbPort: freePort(),
    redisData,
    nginxDir: await Deno.makeTempDir({ prefix: "fn-ct-nginx-" }),
  };
}

async function compose(): Promise<Record<string, ComposeService>> {
  const file = parse(await Deno.readTextFile(`${ROOT}compose.yaml`), { merge: true });
  return file.services;
}

/** `podman run -d` on the host network with this machine's limits; answers the container name. */
async function start(name: string, image: string, options: string[], command: string[] = []) {
  await podmanOk([
    "run",
    "-d",
    "--name",
    name,
    "--network",
    "host",
    ...LIMITS,
    ...options,
    image,
    ...command,
  ]);
  return name;
}

/** Environment options for podman from a compose environment map, interpolated. */
function envOptions(environment: Record<string, string>, settings: Settings): string[] {
  return Object.entries(environment).flatMap((
    [k, v],
  ) => ["-e", `${k}=${interpolate(String(v), settings)}`]);
}

/** nginx's compose file (deploy/compose/nginx.conf), translated for host ports, as a whole nginx.conf. */
async function nginxConf(layout: Layout): Promise<string> {
  const site = await Deno.readTextFile(`${ROOT}deploy/compose/nginx.conf`);
  const [one, two] = layout.replicaPorts;
  const translated = site
    .replace(/^resolver .*$/m, "")
    .replace(/server functions-1:8000 resolve/, `server 127.0.0.1:${one}`)
    .replace(/server functions-2:8000 resolve/, `server 127.0.0.1:${two}`)
    .replace(/listen 8000;/, `listen 127.0.0.1:${layout.lbPort};`);
  if (translated.includes("functions-") || translated.includes(" resolve")) {
    throw new Error(
      "deploy/compose/nginx.conf changed shape: update the container test's translation",
    );
  }
  return `daemon off;
pid /tmp/nginx.pid;
error_log stderr warn;
events {}
http {
  access_log off;
  client_body_temp_path /tmp/nginx-body;
  proxy_temp_path /tmp/nginx-proxy;
${translated}
}
`;
}

/** Boots Redis, then both replicas, then nginx, waiting for each one's health check. */
export async function boot(images: Images, layout: Layout, settings: Settings): Promise<Topology> {
  const services = await compose();
  const names: string[] = [];
  const prefix = `fn-ct-${layout.id}`;
  const healthChecks = new Map<string, string[]>();

  // Redis: compose's command, on its own port and with its data in the host folder.
  const redis = services.redis!;
  const redisCommand = (redis.command ?? []).map((part) => interpolate(part, settings));
  const redisName = await start(
    `${prefix}-redis`,
    images.services,
    [...envOptions(redis.environment ?? {}, settings), "-v", `${layout.redisData}:/data`],
    [...redisCommand, "--port", String(layout.redisPort), "--bind", "127.0.0.1", "--dir", "/data"],
  );
  names.push(redisName);
  healthChecks.set(redisName, [...check(redis), "-p", String(layout.redisPort)]);
  await waitHealthy(redisName, healthChecks.get(redisName)!);

  // The replicas: compose's environment, Redis at its host port, each on its own PORT.
  const replicas = [] as unknown as [Running, Running];
  for (const [i, port] of layout.replicaPorts.entries()) {
    const service = services[`functions-${i + 1}`]!;
    const environment = {
      ...service.environment,
      REDIS_URL: interpolate(service.environment!.REDIS_URL!, settings)
        .replace("@redis:6379", `@127.0.0.1:${layout.redisPort}`),
      PORT: String(port),
    };
    const name = await start(
      `${prefix}-functions-${i + 1}`,
      images.platform,
      envOptions(environment, settings),
    );
    names.push(name);
    healthChecks.set(name, check(service));
    replicas.push({ name, port });
  }
  for (const replica of replicas) await waitHealthy(replica.name, healthChecks.get(replica.name)!);

  // nginx: compose's file, translated, in front of both.
  await Deno.writeTextFile(`${layout.nginxDir}/nginx.conf`, await nginxConf(layout));
  const lbName = await start(
    `${prefix}-lb`,
    images.services,
    ["-v", `${layout.nginxDir}:/etc/fn-nginx:ro`],
    ["nginx", "-c", "/etc/fn-nginx/nginx.conf"],
  );
  names.push(lbName);
  const lbCheck = check(services.lb!).map((part) =>
    part.replace("http://127.0.0.1:8000/", `http://127.0.0.1:${layout.lbPort}/`)
  );
  healthChecks.set(lbName, lbCheck);
  await waitHealthy(lbName, lbCheck);

  return {
    redis: { name: redisName, port: layout.redisPort },
    replicas,
    lb: { name: lbName, port: layout.lbPort },
    url: `http://127.0.0.1:${layout.lbPort}`,
    async healthy(service) {
      return (await podman(["exec", service.name, ...healthChecks.get(service.name)!])).code === 0;
    },
    async stop() {
      // nginx first, Redis last, as compose stops dependents before what they depend on.
      for (const name of [...names].reverse()) {
        await podman(["stop", "--time", "40", name]);
        await podman(["rm", "-f", name]);
      }
    },
  };
}

/** A compose health check's command: CMD's arguments, or CMD-SHELL's line for sh -c. */
function check(service: ComposeService): string[] {
  const [kind, ...rest] = service.healthcheck?.test ?? [];
  if (kind === "CMD") return rest;
  if (kind === "CMD-SHELL") return ["sh", "-c", rest.join(" ")];
  throw new Error(`no health check to translate: ${JSON.stringify(service.healthcheck)}`);
}

/** Runs a health check every 250 ms until it passes; fails with the container's log after 60 s. */
async function waitHealthy(name: string, command: string[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if ((await podman(["exec", name, ...command])).code === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const logs = await podman(["logs", "--tail", "40", name]);
  throw new Error(`${name} never became healthy:\n${logs.stdout}${logs.stderr}`);
}

/** Removes every container of a layout, whatever state it is in (for cleanup after a failure). */
export async function removeAll(layout: Layout): Promise<void> {
  const listed = await podman([
    "ps",
    "-a",
    "--format",
    "{{.Names}}",
    "--filter",
    `name=fn-ct-${layout.id}`,
  ]);
  for (const name of listed.stdout.split("\n").filter(Boolean)) await podman(["rm", "-f", name]);
}

/**
 * The images the container test boots. Image registries are not reachable here, so the bases are
 * made locally and tagged under localhost/fn-test/ (never as an official image): a Debian root
 * made with debootstrap, a Deno image on it with the Deno binary from npm (@deno/linux-x64-glibc,
 * the version of the Dockerfile's DENO_VERSION) and the official image's `deno` user (uid 1993),
 * and an image with Debian's redis-server and nginx for the services compose.yaml takes from
 * Docker Hub. The platform image is built from the repository's own Dockerfile with
 * `--build-arg BASE_IMAGE=` the local Deno image. The bases are kept between runs; the platform
 * image is rebuilt every run.
 */
import { imageExists, LIMITS, podmanOk } from "./podman.ts";

/** Debian's CA bundle: Deno trusts the package registry here only with it. */
export const CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/** Local image names. */
export interface Images {
  platform: string;
  services: string;
}

const ROOT = new URL("../../", import.meta.url).pathname;
const BASE = "localhost/fn-test/debian:bookworm";
const SERVICES = "localhost/fn-test/services:bookworm";
const PLATFORM = "localhost/fn-test/platform:latest";

/** The Dockerfile's default DENO_VERSION, which the stand-in Deno image must match. */
async function denoVersion(): Promise<string> {
  const dockerfile = await Deno.readTextFile(`${ROOT}Dockerfile`);
  const version = dockerfile.match(/^ARG DENO_VERSION=(\S+)$/m)?.[1];
  if (!version) throw new Error("the Dockerfile has no ARG DENO_VERSION=");
  return version;
}

async function run(command: string, args: string[], cwd?: string): Promise<void> {
  const output = await new Deno.Command(command, {
    args,
    ...(cwd ? { cwd } : {}),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (output.code !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} failed:\n${new TextDecoder().decode(output.stderr)}`,
    );
  }
}

/** Builds `tag` from a Containerfile text and a context folder holding `files`. */
async function buildFrom(tag: string, containerfile: string, files: Record<string, string> = {}) {
  const context = await Deno.makeTempDir({ prefix: "fn-ct-context-" });
  try {
    await Deno.writeTextFile(`${context}/Containerfile`, containerfile);
    for (const [name, from] of Object.entries(files)) {
      await Deno.copyFile(from, `${context}/${name}`);
    }
    await podmanOk([
      "build",
      ...LIMITS,
      "--network",
      "host",
      "--format",
      "docker",
      "-t",
      tag,
      context,
    ]);
  } finally {
    await Deno.remove(context, { recursive: true });
  }
}

/** A Debian bookworm root from debootstrap, imported as an image. */
async function baseImage(): Promise<void> {
  if (await imageExists(BASE)) return;
  const dir = await Deno.makeTempDir({ prefix: "fn-ct-rootfs-" });
  try {
    await run("debootstrap", [
      "--variant=minbase",
      "--include=ca-certificates",
      "bookworm",
      `${dir}/root`,
      "http://deb.debian.org/debian",
    ]);
    const tar = new Deno.Command("tar", { args: ["-C", `${dir}/root`, "-c", "."], stdout: "piped" })
      .spawn();
    await podmanOk(["import", "--quiet", "-", BASE], tar.stdout);
    await tar.status;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The stand-in for denoland/deno:<version>: Deno from npm and the `deno` user. */
async function denoImage(version: string): Promise<string> {
  const tag = `localhost/fn-test/deno:${version}`;
  if (await imageExists(tag)) return tag;
  const dir = await Deno.makeTempDir({ prefix: "fn-ct-deno-" });
  try {
    await run("npm", [
      "pack",
      "--silent",
      "--pack-destination",
      dir,
      `@deno/linux-x64-glibc@${version}`,
    ]);
    await run("tar", ["-xzf", `deno-linux-x64-glibc-${version}.tgz`, "package/deno"], dir);
    await buildFrom(
      tag,
      `FROM ${BASE}
COPY deno /usr/bin/deno
RUN chmod 755 /usr/bin/deno \\
  && groupadd --gid 1993 deno && useradd --uid 1993 --gid deno --create-home deno \\
  && mkdir /deno-dir && chown deno:deno /deno-dir
ENV DENO_DIR=/deno-dir
`,
      { deno: `${dir}/package/deno` },
    );
    return tag;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Debian's redis-server and nginx (1.22), for the services compose.yaml pulls. */
async function servicesImage(): Promise<void> {
  if (await imageExists(SERVICES)) return;
  await buildFrom(
    SERVICES,
    `FROM ${BASE}
RUN apt-get update && apt-get install -y --no-install-recommends redis-server nginx-light wget \\
  && rm -rf /var/lib/apt/lists/*
`,
  );
}

/**
 * Builds (or reuses) the bases, then the platform image from the repository's Dockerfile. Deno in
 * `RUN` steps gets the CA bundle through the Dockerfile's DENO_CERT build argument and a mount
 * (`--env` does not reach RUN steps).
 */
export async function buildImages(): Promise<Images> {
  await baseImage();
  const deno = await denoImage(await denoVersion());
  await servicesImage();
  await podmanOk([
    "build",
    ...LIMITS,
    "--network",
    "host",
    "--format",
    "docker",
    "--build-arg",
    `BASE_IMAGE=${deno}`,
    "--build-arg",
    `DENO_CERT=${CA_BUNDLE}`,
    "-v",
    `${CA_BUNDLE}:${CA_BUNDLE}:ro`,
    "-f",
    `${ROOT}Dockerfile`,
    "-t",
    PLATFORM,
    ROOT,
  ]);
  return { platform: PLATFORM, services: SERVICES };
}

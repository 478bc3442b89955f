/**
 * Podman as this machine needs it (measured): the runc runtime (crun fails on its hybrid
 * cgroups), explicit ulimits within the machine's own (podman's higher defaults are refused),
 * and host networking, so every container talks over 127.0.0.1 and no bridge network is made.
 */

/** The flags every `podman run` and `podman build` here takes. */
export const LIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"];

/** What a finished podman command answered. */
export interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `podman --runtime runc <args>`, optionally feeding `stdin`; never throws on exit codes. */
export async function podman(args: string[], stdin?: ReadableStream<Uint8Array>): Promise<Output> {
  const child = new Deno.Command("podman", {
    args: ["--runtime", "runc", ...args],
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) await stdin.pipeTo(child.stdin);
  const output = await child.output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

/** Runs podman and fails with its stderr unless it exits 0; answers stdout. */
export async function podmanOk(
  args: string[],
  stdin?: ReadableStream<Uint8Array>,
): Promise<string> {
  const output = await podman(args, stdin);
  if (output.code !== 0) {
    throw new Error(
      `podman ${args.slice(0, 3).join(" ")} … exited ${output.code}:\n${output.stderr}`,
    );
  }
  return output.stdout;
}

/** Whether a local image with this name exists. */
export async function imageExists(name: string): Promise<boolean> {
  return (await podman(["image", "exists", name])).code === 0;
}

/** What is missing on this machine for the container test, as install commands; empty if none. */
export async function missingTools(): Promise<string[]> {
  const missing: string[] = [];
  for (
    const [tool, pkg] of [["podman", "podman"], ["runc", "runc"], ["debootstrap", "debootstrap"], [
      "npm",
      "npm",
    ]]
  ) {
    const found = await new Deno.Command("sh", {
      args: ["-c", `command -v ${tool}`],
      stdout: "null",
    })
      .output();
    if (found.code !== 0) missing.push(pkg!);
  }
  return missing;
}

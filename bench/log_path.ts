/**
 * The cost of the host's log path (secret redaction of one line a function wrote; source maps
 * are applied in the sandbox) for 100 KB and 1 MB of hostile text: it must grow linearly, not
 * with the square of the size.
 */
import { redactSecrets } from "../runtime/vars/redact.ts";

/** Milliseconds per call of the log path on `text`, the best of a few rounds. */
function cost(text: string, secrets: Record<string, string>): number {
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const started = performance.now();
    redactSecrets(text, secrets);
    best = Math.min(best, performance.now() - started);
  }
  return best;
}

/** Prints the log path's cost for 100 KB and 1 MB inputs of several hostile shapes. */
export function logPath(): void {
  const secrets = Object.fromEntries(
    Array.from({ length: 100 }, (_, i) => [`SECRET_${i}`, `value-${i}-${"s".repeat(20)}`]),
  );
  const shapes: Array<[string, (n: number) => string]> = [
    ["near-miss of a secret", (n) => "value-1-sss".repeat(n / 11)],
    ["frame-shaped lines", (n) => "    at f (bundle:$bundle:1:1)\n".repeat(n / 30)],
    ["plain text", (n) => "x".repeat(n)],
  ];
  console.log("\nlog path (redaction of 100 secrets), one line, best of 5\n");
  console.log("input".padEnd(24) + "100 KB ms".padStart(10) + "1 MB ms".padStart(10) + "  ratio");
  for (const [name, make] of shapes) {
    const small = cost(make(100 * 1024), secrets);
    const large = cost(make(1024 * 1024), secrets);
    console.log(
      name.padEnd(24) + small.toFixed(2).padStart(10) + large.toFixed(2).padStart(10) +
        `  ${(large / small).toFixed(1)}×`,
    );
  }
}

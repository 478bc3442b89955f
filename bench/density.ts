/**
 * The density scenario: `apps` apps on default settings, each deployed and called once, then
 * all called round-robin twice. Reports how many apps were held warm at once (a live sandbox
 * each), the resident memory of the host process alone and of the whole process tree, and p50s
 * of deploys, first calls and calls to apps whose sandbox had been evicted.
 */
import type { Platform } from "../runtime/platform/platform.ts";
import { sampleProcess, sampleTree } from "../runtime/sandbox/host/proc.ts";

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function timed(fn: () => Promise<Response>): Promise<{ ms: number; ok: boolean }> {
  const started = performance.now();
  const response = await fn();
  await response.arrayBuffer();
  return { ms: performance.now() - started, ok: response.ok };
}

/** Runs the scenario against a server at `base` backed by `platform`, and prints its figures. */
export async function density(
  base: string,
  apiKey: string,
  apps: number,
  platform: Platform,
): Promise<void> {
  let peakRss = 0;
  let peakHostRss = 0;
  let peakWarm = 0;
  const hostRss = async () => (await sampleProcess(Deno.pid))?.rssBytes ?? 0;
  const startRss = await hostRss();
  const watch = setInterval(async () => {
    peakRss = Math.max(peakRss, (await sampleTree(Deno.pid)).rssBytes);
    peakHostRss = Math.max(peakHostRss, await hostRss());
    peakWarm = Math.max(peakWarm, platform.sandboxes.stats().live);
  }, 250);
  const deploys: number[] = [];
  const firsts: number[] = [];
  const evicted: number[] = [];
  const warm: number[] = [];
  let errors = 0;
  const ids: string[] = [];
  const call = (i: number) => fetch(`${base}/apps/density-${i}/functions/hello`);

  for (let i = 0; i < apps; i++) {
    let id = "";
    const deploy = await timed(async () => {
      const response = await fetch(`${base}/v1/apps/density-${i}/deploy`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}` },
        body: JSON.stringify({
          source_files: {
            "api/hello.ts": `export default () => ({ body: { app: ${i} } });`,
          },
        }),
      });
      id = response.ok ? (await response.clone().json()).id : "";
      return response;
    });
    deploys.push(deploy.ms);
    ids.push(id);
    if (!deploy.ok) errors++;
    const first = await timed(() => call(i));
    firsts.push(first.ms);
    if (!first.ok) errors++;
  }
  // Every app has been called once: how many are still warm, what they and the host hold.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const heldWarm = ids.filter((id) => platform.sandboxes.pidOf(id) !== null).length;
  const heldHostRss = await hostRss();
  const heldSandboxMemory = platform.sandboxes.stats().memoryBytes;
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < apps; i++) {
      const wasEvicted = platform.sandboxes.pidOf(ids[i]!) === null;
      const result = await timed(() => call(i));
      (wasEvicted ? evicted : warm).push(result.ms);
      if (!result.ok) errors++;
    }
  }
  clearInterval(watch);
  peakRss = Math.max(peakRss, (await sampleTree(Deno.pid)).rssBytes);
  peakHostRss = Math.max(peakHostRss, await hostRss());
  const stats = platform.sandboxes.stats();
  const limits = platform.sandboxes.memoryLimits;
  const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
  // Round-robin over more apps than fit leaves no live app to call: say so, not "NaN ms".
  const ms = (values: number[]) =>
    values.length === 0
      ? "none measured"
      : `${percentile(values, 50).toFixed(1)} ms p50, ${percentile(values, 99).toFixed(1)} ms p99`;
  console.log(
    `\ndensity: ${apps} apps on default settings, each deployed and called, then 2 rounds`,
  );
  console.log(
    `  budget:                        ${stats.live + stats.spares} sandboxes now; at most ` +
      `${platform.sandboxes.shareLimits.maxSandboxes}, admitted up to ` +
      `${megabytes(limits.admitBytes)} of ${megabytes(limits.totalBytes)}`,
  );
  console.log(`  errors:                        ${errors}`);
  console.log(
    `  warm apps held at once:        ${heldWarm} of ${apps} after one call each ` +
      `(peak ${peakWarm} live); their sandboxes hold ${megabytes(heldSandboxMemory)}`,
  );
  console.log(
    `  host RSS (server alone):       ${megabytes(startRss)} at start, ` +
      `${megabytes(heldHostRss)} with them, ${megabytes(peakHostRss)} peak`,
  );
  console.log(`  peak RSS, whole process tree:  ${megabytes(peakRss)}`);
  console.log(`  sandboxes live at the end:     ${stats.live} (+${stats.spares} spare)`);
  console.log(`  deploy (one file):             ${ms(deploys)}`);
  console.log(`  first call after deploy:       ${ms(firsts)}`);
  console.log(`  call to an evicted app:        ${ms(evicted)} (${evicted.length} calls)`);
  console.log(`  call to a live app:            ${ms(warm)} (${warm.length} calls)`);
  console.log(`  stops: ${JSON.stringify(stats.stops)}, cold starts: ${stats.coldStarts}`);
}

/**
 * Load generator, run as its own process so it does not share a CPU queue with the server:
 * `deno run -A bench/load.ts <url> <connections> <seconds>` keeps `connections` requests in
 * flight for `seconds` and prints one JSON line: requests, errors, req/s, p50 and p99 in ms.
 */
const [url, connections = "50", seconds = "5"] = Deno.args;
const until = performance.now() + Number(seconds) * 1000;
const latencies: number[] = [];
let errors = 0;

async function loop(): Promise<void> {
  while (performance.now() < until) {
    const started = performance.now();
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.ok) latencies.push(performance.now() - started);
      else errors++;
    } catch {
      errors++;
    }
  }
}

const started = performance.now();
await Promise.all(Array.from({ length: Number(connections) }, loop));
const elapsed = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const at = (q: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
console.log(JSON.stringify({
  requests: latencies.length,
  errors,
  rps: latencies.length / elapsed,
  p50: at(0.5),
  p99: at(0.99),
}));

/** Runs `wrk` (Debian's package) against a URL and reads its figures. */

/** What one wrk run measured. */
export interface Figures {
  rps: number;
  p50: number;
  p99: number;
  /** Non-2xx/3xx answers plus socket errors. */
  errors: number;
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  if (unit === "us") return n / 1000;
  if (unit === "s") return n * 1000;
  if (unit === "m") return n * 60_000;
  return n;
}

/** Parses wrk's `--latency` report. */
export function parseWrk(text: string): Figures {
  const rps = Number(text.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN);
  const percentile = (p: string) => {
    const m = text.match(new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m"));
    return m ? toMs(m[1]!, m[2]!) : NaN;
  };
  const non2xx = Number(text.match(/Non-2xx or 3xx responses:\s+(\d+)/)?.[1] ?? 0);
  const socket = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const socketErrors = socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return { rps, p50: percentile("50"), p99: percentile("99"), errors: non2xx + socketErrors };
}

/** Loads `url` with `connections` for `seconds` on 2 threads (1 for one connection). */
export async function wrk(url: string, connections: number, seconds: number): Promise<Figures> {
  const output = await new Deno.Command("wrk", {
    args: [
      `-t${Math.min(2, connections)}`,
      `-c${connections}`,
      `-d${seconds}s`,
      "--latency",
      url,
    ],
    stderr: "inherit",
  }).output().catch((error) => {
    throw new Error(`wrk could not run (apt-get install wrk): ${error.message}`);
  });
  const text = new TextDecoder().decode(output.stdout);
  const figures = parseWrk(text);
  if (!Number.isFinite(figures.rps)) throw new Error(`could not read wrk's output:\n${text}`);
  return figures;
}

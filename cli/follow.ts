/**
 * `fn logs --follow`: the live tail (SSE). When the connection drops (a server restart), it says
 * so on stderr, reconnects every second until the server is back, and then prints the entries
 * logged while it was away (read from the log pages) before going on with the tail.
 */
import { CliError, credentials, request, responseError } from "./client.ts";

/** A log entry as the API sends it. */
export type Entry = Record<string, unknown>;

/** How long to wait between reconnection attempts, in ms. */
const RETRY_MS = 1000;
/** Entry ids remembered to avoid printing one twice (the page and the tail overlap). */
const SEEN_IDS = 2000;

/** Follows the app's logs until interrupted; only a first connection that fails is an error. */
export async function follow(
  app: string,
  query: URLSearchParams,
  print: (entry: Entry) => void,
): Promise<never> {
  const from = await credentials();
  const seen = new Set<string>();
  let lastTime: string | null = null;
  const show = (entry: Entry) => {
    const id = String(entry.id);
    if (seen.has(id)) return;
    seen.add(id);
    if (seen.size > SEEN_IDS) seen.delete(seen.values().next().value!);
    if (typeof entry.time === "string") lastTime = entry.time;
    print(entry);
  };
  let connectedOnce = false;
  let lostSaid = false;
  while (true) {
    let response: Response | null = null;
    try {
      response = await request(from, `/apps/${encodeURIComponent(app)}/logs/stream?${query}`);
    } catch (error) {
      if (!connectedOnce || !(error instanceof CliError)) throw error;
    }
    if (response && !response.ok) {
      const text = await response.text();
      // A restarting server may answer 502/503 through a proxy: wait for it like a refused connection.
      if (!connectedOnce || response.status < 500) throw responseError(response, text, from);
      response = null;
    }
    if (!response) {
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      continue;
    }
    if (connectedOnce) {
      console.error(`reconnected to ${from.url}`);
      if (lastTime) await catchUp(app, query, lastTime, show);
    }
    connectedOnce = true;
    lostSaid = false;
    try {
      await readEvents(response.body!, show);
    } catch { /* the connection broke: same as its end */ }
    if (!lostSaid) console.error(`connection to ${from.url} lost; reconnecting…`);
    lostSaid = true;
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

/** Prints the entries since `time`, oldest first (those already shown are skipped by `show`). */
async function catchUp(
  app: string,
  query: URLSearchParams,
  time: string,
  show: (entry: Entry) => void,
): Promise<void> {
  const from = await credentials();
  const page = new URLSearchParams(query);
  page.set("since", time);
  page.set("limit", "1000");
  const response = await request(from, `/apps/${encodeURIComponent(app)}/logs?${page}`);
  const text = await response.text();
  if (!response.ok) return;
  const { entries } = JSON.parse(text) as { entries: Entry[] };
  for (const entry of entries.reverse()) show(entry);
}

/** Reads SSE `log` events off `body` until it ends. */
async function readEvents(
  body: ReadableStream<Uint8Array>,
  show: (entry: Entry) => void,
): Promise<void> {
  let buffer = "";
  for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.split("\n").find((line) => line.startsWith("data: "));
      if (event.includes("event: log") && data) show(JSON.parse(data.slice(6)));
    }
  }
}

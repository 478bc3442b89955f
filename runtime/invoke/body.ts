/** Reads request bodies under a byte limit, refusing early from Content-Length and counting otherwise. */
import { type JsonShapeLimits, jsonShapeProblem } from "../sandbox/json_shape.ts";
import { invalid, PlatformError } from "../errors.ts";

/** How long a request body may go without a byte before it is answered 408, in ms. */
export const BODY_IDLE_TIMEOUT_MS = 10_000;

/**
 * Reads the whole request body, or throws: 413 as soon as it is known to exceed `limit` bytes,
 * 408 when `idleMs` pass without a byte, 499 when the client went away mid-upload, and 400 when
 * the body's framing is malformed (a bad chunked encoding, a short Content-Length). `hold` is
 * told of each chunk's bytes as it arrives, and may throw to refuse the body (a budget); 408
 * too when the whole body takes longer than `totalMs`.
 */
export async function readBody(
  request: Request,
  limit: number,
  idleMs = BODY_IDLE_TIMEOUT_MS,
  hold: (bytes: number) => void = () => {},
  totalMs = Infinity,
): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let idle = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      idle = true;
      reader.cancel().catch(() => {});
    }, idleMs);
  };
  // A body trickled a byte at a time never goes idle; it must still arrive within `totalMs`.
  let late = false;
  const deadline = Number.isFinite(totalMs)
    ? setTimeout(() => {
      late = true;
      reader.cancel().catch(() => {});
    }, totalMs)
    : undefined;
  try {
    arm();
    while (true) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (error) {
        if (late) throw slow(totalMs);
        if (idle) throw stalled(idleMs);
        // Deno reports a connection that closed mid-body as a resource gone away; a framing
        // error as a plain Error naming the invalid request.
        if (error instanceof Deno.errors.BadResource) {
          throw new PlatformError("client-closed", "the client went away during the upload", {
            cause: error,
          });
        }
        throw invalid(`the request body's framing is malformed: ${(error as Error).message}`);
      }
      if (late) throw slow(totalMs);
      if (idle) throw stalled(idleMs);
      if (next.done) break;
      size += next.value.length;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw tooLarge(limit);
      }
      try {
        hold(next.value.length);
      } catch (error) {
        await reader.cancel().catch(() => {});
        throw error;
      }
      chunks.push(next.value);
      arm();
    }
  } finally {
    clearTimeout(timer);
    clearTimeout(deadline);
  }
  return join(chunks, size);
}

function slow(totalMs: number): PlatformError {
  return new PlatformError(
    "request-timeout",
    `the request body did not arrive within ${totalMs / 1000} s (the function time limit)`,
  );
}

function stalled(idleMs: number): PlatformError {
  return new PlatformError(
    "request-timeout",
    `the request body stopped arriving: no byte for ${idleMs / 1000} s`,
  );
}

function join(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}

/**
 * What an API request's JSON body may hold: the API's bodies nest 4 levels at most, and a deploy
 * of 500 files with its packages holds a few arrays and objects and about a thousand keys.
 */
export const API_JSON_SHAPE: JsonShapeLimits = { depth: 64, containers: 4096, keys: 16_384 };

/** Parses a JSON body read under `limit`; throws 400 naming the problem. */
export async function readJson(request: Request, limit: number): Promise<unknown> {
  const bytes = await readBody(request, limit);
  const problem = jsonShapeProblem(bytes, API_JSON_SHAPE);
  if (problem) throw invalid(`the request body ${problem}`);
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    throw invalid(`the request body is not valid JSON: ${(error as Error).message}`);
  }
}

function tooLarge(limit: number): PlatformError {
  return new PlatformError("too-large", `the request body is over the limit of ${limit} bytes`);
}

/** Reads request bodies under a byte limit, refusing early from Content-Length and counting otherwise. */
import { invalid, PlatformError } from "../errors.ts";

/**
 * Reads a byte stream whole, or returns null (having cancelled it) as soon as it exceeds
 * `limit` bytes, so no more than the limit is ever buffered.
 */
export async function readLimited(
  stream: ReadableStream<Uint8Array>,
  limit: number,
): Promise<Uint8Array | null> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}

/** Reads the whole request body, or throws 413 as soon as it is known to exceed `limit` bytes. */
export async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  if (!request.body) return new Uint8Array(0);
  const body = await readLimited(request.body, limit);
  if (body === null) throw tooLarge(limit);
  return body;
}

/** Parses a JSON body read under `limit`; throws 400 naming the problem. */
export async function readJson(request: Request, limit: number): Promise<unknown> {
  const bytes = await readBody(request, limit);
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    throw invalid(`the request body is not valid JSON: ${(error as Error).message}`);
  }
}

function tooLarge(limit: number): PlatformError {
  return new PlatformError("too-large", `the request body is over the limit of ${limit} bytes`);
}

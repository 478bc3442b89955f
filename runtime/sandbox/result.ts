/**
 * Turns what a handler returned into a FunctionResult, or says clearly why it cannot be sent.
 * Runs inside the worker, so a bad value never has to cross the wire.
 */
import { encodeBase64 } from "./base64.ts";
import type { FunctionResult } from "./protocol.ts";

/** Largest response body a handler may return, in bytes. */
export const MAX_RESPONSE_BYTES = 6 * 1024 * 1024;

/** A handler's return value that cannot become an HTTP response. */
export class BadResultError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BadResultError";
  }
}

/** Validates and serialises a handler's return value. */
export function toResult(out: unknown): FunctionResult {
  if (out === undefined || out === null) {
    return { status: 200, headers: {}, body: { type: "none" } };
  }
  if (typeof out !== "object" || Array.isArray(out)) {
    throw new BadResultError(
      `a handler must return an object like { status, body, headers }, got ${describe(out)}`,
    );
  }
  const { status = 200, headers = {}, body } = out as Record<string, unknown>;
  if (typeof status !== "number" || !Number.isInteger(status) || status < 200 || status > 599) {
    throw new BadResultError(`status must be an integer from 200 to 599, got ${describe(status)}`);
  }
  return { status, headers: toHeaders(headers), body: toBody(body) };
}

function toHeaders(headers: unknown): Record<string, string> {
  if (typeof headers !== "object" || headers === null || Array.isArray(headers)) {
    throw new BadResultError(`headers must be an object of strings, got ${describe(headers)}`);
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== "string" && typeof value !== "number") {
      throw new BadResultError(`header "${name}" must be a string, got ${describe(value)}`);
    }
    out[name] = String(value);
  }
  return out;
}

function toBody(body: unknown): FunctionResult["body"] {
  if (body === undefined || body === null) return { type: "none" };
  if (typeof body === "string") {
    checkSize(new TextEncoder().encode(body).length);
    return { type: "text", text: body, contentType: "text/plain; charset=utf-8" };
  }
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) {
    const bytes = body instanceof ArrayBuffer
      ? new Uint8Array(body)
      : new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    checkSize(bytes.length);
    return { type: "bytes", base64: encodeBase64(bytes) };
  }
  if (typeof body === "function" || typeof body === "symbol" || typeof body === "bigint") {
    throw new BadResultError(`body cannot be sent: it is ${describe(body)}`);
  }
  let text: string;
  try {
    text = JSON.stringify(body);
  } catch (error) {
    throw new BadResultError(`body cannot be serialised as JSON: ${(error as Error).message}`);
  }
  checkSize(new TextEncoder().encode(text).length);
  return { type: "text", text, contentType: "application/json; charset=utf-8" };
}

function checkSize(bytes: number): void {
  if (bytes > MAX_RESPONSE_BYTES) {
    throw new BadResultError(
      `response body is ${bytes} bytes, over the limit of ${MAX_RESPONSE_BYTES} bytes (6 MB)`,
    );
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "function") return "a function";
  if (typeof value === "symbol") return "a symbol";
  if (typeof value === "object") return "an object";
  const text = String(value);
  // A user's value can be megabytes long; the error names it, it does not echo it.
  return `${typeof value} ${
    text.length > 80 ? `${text.slice(0, 80)}… (${text.length} chars)` : text
  }`;
}

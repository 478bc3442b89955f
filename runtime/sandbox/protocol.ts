/**
 * Messages between the host, a sandbox process and its workers. The child relays worker
 * messages unchanged, so one set of types describes both hops.
 */

/** `ctx.req` as it crosses into the sandbox; `body` is decoded back to bytes in the worker. */
export interface FunctionRequest {
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string>;
  params: Record<string, string>;
  body: WireBody;
}

/** A body on the wire: JSON frames cannot carry bytes, so bytes travel as base64. */
export type WireBody =
  | { type: "none" }
  | { type: "value"; value: unknown }
  | { type: "bytes"; base64: string };

/** What a handler answered, already validated and serialised by the worker. */
export interface FunctionResult {
  status: number;
  headers: Record<string, string>;
  /** `contentType` is the default used when the handler set no `content-type` header. */
  body: { type: "none" } | { type: "text"; text: string; contentType: string } | {
    type: "bytes";
    base64: string;
  };
}

/** Why an invocation produced no result. */
export type FailureKind = "threw" | "bad-result" | "restarted" | "crashed";

/** A failed invocation, as reported by the sandbox. */
export interface Failure {
  kind: FailureKind;
  message: string;
  stack?: string;
}

/** Why a deployment's modules could not be loaded in a worker. */
export interface LoadFailure {
  file: string;
  message: string;
}

/** Log levels a handler's console can write, lowest first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** One of LOG_LEVELS. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Host → sandbox process. */
export type HostMessage =
  | { t: "init"; bootstrap: string }
  | { t: "load"; dep: string; modules: Record<string, string> }
  | { t: "unload"; dep: string }
  | {
    t: "invoke";
    id: string;
    dep: string;
    file: string;
    req: FunctionRequest;
    env: Record<string, string>;
  }
  | { t: "cancel"; id: string }
  | { t: "reply"; id: string; cid: number; ok: boolean; value?: unknown; error?: string };

/** Sandbox process (or worker) → host. */
export type SandboxMessage =
  | { t: "hello"; token: string }
  | { t: "loaded"; dep: string }
  | { t: "load-failed"; dep: string; error: LoadFailure }
  | { t: "result"; id: string; result: FunctionResult }
  | { t: "failed"; id: string; error: Failure }
  | { t: "call"; id: string; cid: number; op: string; args: unknown[] }
  | { t: "log"; id: string | null; level: LogLevel; message: string }
  /** Console lines a worker dropped for a request past the per-request bounds, sent before its end. */
  | { t: "log-dropped"; id: string; entries: number; characters: number };

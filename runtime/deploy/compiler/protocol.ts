/** The messages between the host and a compile process (see wire.ts for their framing). */
import type { Diagnostic } from "../diagnostic.ts";
import type { Route } from "../router.ts";

/** Host → compile process: compile the files sent as the message's texts (path → source). */
export interface CompileRequest {
  id: number;
}

/** Compile process → host, once, when esbuild's service runs and it can take a deploy. */
export interface ReadyReply {
  ready: true;
}

/**
 * Compile process → host, for request `id`: the routes, with the bundle's modules and source
 * maps as texts (named by `moduleText` and `sourceMapText`); or the deploy's diagnostics; or a
 * `failure` of the compiler itself (a bug, not the deploy's fault).
 */
export type CompileReply =
  | { id: number; ok: true; routes: Route[] }
  | { id: number; ok: false; diagnostics: Diagnostic[]; limit: boolean; tooLarge: boolean }
  | { id: number; ok: false; failure: string };

/** The text name of a compiled module `name`. */
export function moduleText(name: string): string {
  return `module:${name}`;
}

/** The text name of module `name`'s source map. */
export function sourceMapText(name: string): string {
  return `map:${name}`;
}

/**
 * File-system routing: `api/a/b.ts` → `/functions/a/b`, `index` names its folder, `[id]`
 * matches one segment, `[...rest]` the remainder (one or more segments), `[[...rest]]` the
 * remainder or nothing (so it also serves its folder's own path), static beats dynamic.
 */
import type { Diagnostic } from "./diagnostic.ts";

type Segment =
  | { kind: "static"; value: string }
  | { kind: "param"; name: string }
  | { kind: "rest"; name: string; optional?: true };

/** One route of a deployment: its URL pattern and the file that serves it. */
export interface Route {
  /** e.g. `/functions/users/[id]` */
  pattern: string;
  /** e.g. `api/users/[id].ts` */
  file: string;
}

/** A request path matched to a route. */
export interface RouteMatch {
  file: string;
  params: Record<string, string>;
}

const NAME = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const RANK = { static: 0, param: 1, rest: 2 } as const;

function parseSegment(raw: string): Segment {
  const optional = raw.match(/^\[\[\.\.\.(.+)\]\]$/);
  if (optional) return { kind: "rest", name: optional[1]!, optional: true };
  const rest = raw.match(/^\[\.\.\.(.+)\]$/);
  if (rest) return { kind: "rest", name: rest[1]! };
  const param = raw.match(/^\[(.+)\]$/);
  if (param) return { kind: "param", name: param[1]! };
  return { kind: "static", value: raw };
}

function segmentsOf(file: string): Segment[] {
  const parts = file.replace(/\.(ts|js)$/, "").split("/").slice(1);
  if (parts[parts.length - 1] === "index") parts.pop();
  return parts.map(parseSegment);
}

function patternOf(segments: Segment[]): string {
  const parts = segments.map((s) =>
    s.kind === "static"
      ? s.value
      : s.kind === "param"
      ? `[${s.name}]`
      : s.optional
      ? `[[...${s.name}]]`
      : `[...${s.name}]`
  );
  return ["/functions", ...parts].join("/");
}

function problemOf(segments: Segment[]): string | null {
  const names = new Set<string>();
  for (const [i, segment] of segments.entries()) {
    if (segment.kind === "static") continue;
    if (!NAME.test(segment.name)) {
      return `route parameter "${segment.name}" must be a JavaScript identifier, like [id]`;
    }
    if (names.has(segment.name)) return `route parameter "${segment.name}" appears twice`;
    names.add(segment.name);
    if (segment.kind === "rest" && i !== segments.length - 1) {
      return `a catch-all [...${segment.name}] must be the last segment of the path`;
    }
  }
  return null;
}

function compareRoutes(a: Segment[], b: Segment[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const diff = RANK[a[i]!.kind] - RANK[b[i]!.kind];
    if (diff !== 0) return diff;
  }
  return b.length - a.length;
}

/** Computes the routes of a deployment's route files, or diagnostics for bad names and clashes. */
export function planRoutes(files: string[]): { routes: Route[]; problems: Diagnostic[] } {
  const problems: Diagnostic[] = [];
  const byPattern = new Map<string, string>();
  const routes: Route[] = [];
  for (const file of files) {
    const segments = segmentsOf(file);
    const problem = problemOf(segments);
    if (problem) {
      problems.push({ file, line: null, column: null, message: problem });
      continue;
    }
    const pattern = patternOf(segments);
    const wild = segments.map((s): Segment =>
      s.kind === "static" ? s : { kind: s.kind, name: "*" }
    );
    // An optional catch-all serves its folder's own path too: that path must be free as well.
    const shapes = [patternOf(wild)];
    if (segments.at(-1)?.kind === "rest" && (segments.at(-1) as { optional?: true }).optional) {
      shapes.push(patternOf(wild.slice(0, -1)));
    }
    const clash = shapes.map((shape) => byPattern.get(shape)).find((file) => file !== undefined);
    if (clash) {
      problems.push({
        file,
        line: null,
        column: null,
        message: `${file} and ${clash} both serve ${pattern}; keep one`,
      });
      continue;
    }
    for (const shape of shapes) byPattern.set(shape, file);
    routes.push({ pattern, file });
  }
  return { routes, problems };
}

/** Matches request paths (below `/functions`) against a deployment's routes. */
export class Router {
  readonly #table: Array<{ file: string; segments: Segment[] }>;

  constructor(routes: Route[]) {
    this.#table = routes
      .map((r) => ({ file: r.file, segments: segmentsOf(r.file) }))
      .sort((a, b) => compareRoutes(a.segments, b.segments));
  }

  /** Finds the route for `path` (e.g. `/users/42`, already stripped of `/functions`), or null. */
  match(path: string): RouteMatch | null {
    const parts = partsOf(path);
    if (!parts) return null;
    for (const route of this.#table) {
      const params = matchSegments(route.segments, parts);
      if (params) return { file: route.file, params };
    }
    return null;
  }
}

/** The non-empty segments of `path`, percent-decoded; null when an escape is malformed. */
function partsOf(path: string): string[] | null {
  const parts: string[] = [];
  let start = 0;
  while (start <= path.length) {
    let end = path.indexOf("/", start);
    if (end < 0) end = path.length;
    if (end > start) {
      const part = path.slice(start, end);
      if (!part.includes("%")) parts.push(part);
      else {
        try {
          parts.push(decodeURIComponent(part));
        } catch {
          return null;
        }
      }
    }
    start = end + 1;
  }
  return parts;
}

/**
 * Sets a route parameter as an own property, even one named `__proto__`. Params are a plain
 * object, not one without a prototype: V8's fast JSON.stringify skips such objects, which made
 * the invoke frame cost several times more to encode.
 */
function setParam(params: Record<string, string>, name: string, value: string): void {
  if (name === "__proto__") {
    Object.defineProperty(params, name, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else params[name] = value;
}

function matchSegments(segments: Segment[], parts: string[]): Record<string, string> | null {
  if (segments.length < parts.length && segments.at(-1)?.kind !== "rest") return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment.kind === "rest") {
      if (i >= parts.length) return segment.optional ? params : null;
      setParam(params, segment.name, parts.slice(i).join("/"));
      return params;
    }
    if (i >= parts.length) return null;
    if (segment.kind === "static") {
      if (segment.value !== parts[i]) return null;
    } else setParam(params, segment.name, parts[i]!);
  }
  return segments.length === parts.length ? params : null;
}

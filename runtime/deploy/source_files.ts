/** Checks a deploy's `source_files` map: paths, file types and size limits, before anything compiles. */
import type { Diagnostic } from "./diagnostic.ts";

/** Most files one deployment may hold. */
const MAX_FILES = 500;
/** Most bytes of source one deployment may hold (5 MB). */
const MAX_SOURCE_BYTES = 5 * 1024 * 1024;
/** Longest path accepted, in characters. */
const MAX_PATH_LENGTH = 512;

const ROUTE_EXTENSIONS = [".ts", ".js"];

/** Whether a file serves a route: under `api/`, a .ts/.js file, with no segment starting with `_`. */
export function isRouteFile(path: string): boolean {
  const segments = path.split("/");
  return segments[0] === "api" && segments.slice(1).every((s) => !s.startsWith("_")) &&
    ROUTE_EXTENSIONS.some((ext) => path.endsWith(ext));
}

/** What to do instead, for the module types other platforms accept (none are skipped). */
const UNSUPPORTED_HINTS: Record<string, string> = {
  ".mjs": "rename it to .js: .js files are ES modules already",
  ".cjs": "CommonJS is not supported: write it as an ES module (import/export) in a .js file",
  ".jsx": "JSX is not compiled: render with template strings, or bundle it into a .js file first",
  ".tsx": "JSX is not compiled: render with template strings, or bundle it into a .ts file first",
};

/** `; <hint>` for an unsupported module type, else "". */
export function unsupportedHint(path: string): string {
  const ext = path.match(/\.[^./]+$/)?.[0]?.toLowerCase() ?? "";
  return Object.hasOwn(UNSUPPORTED_HINTS, ext) ? `; ${UNSUPPORTED_HINTS[ext]}` : "";
}

/** Returns why `path` is not an acceptable source path, or null when it is. */
function pathProblem(path: string): string | null {
  if (path.length === 0) return "the path is empty";
  if (path.length > MAX_PATH_LENGTH) return `the path is longer than ${MAX_PATH_LENGTH} characters`;
  if (path.includes("\0")) return "the path contains a NUL character";
  if (path.includes("\\")) return "the path contains a backslash; use /";
  if (path.startsWith("/")) return "the path is absolute; paths are relative to the app's root";
  const segments = path.split("/");
  if (segments.some((s) => s === "")) return "the path has an empty segment";
  if (segments.some((s) => s === "." || s === "..")) {
    return "the path has a '.' or '..' segment, which would leave or bend the tree";
  }
  if ([...path].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)) {
    return "the path contains a control character";
  }
  if (segments[0] === "api" && segments.length > 1 && !path.match(/\.(ts|js)$/)) {
    return `files under api/ must be .ts or .js${unsupportedHint(path)}`;
  }
  return null;
}

/** Checks the deploy's size limits (files, bytes of source); the first one broken, or null. */
export function sourceLimitProblem(files: Record<string, string>): Diagnostic | null {
  const paths = Object.keys(files);
  if (paths.length > MAX_FILES) {
    return {
      file: null,
      line: null,
      column: null,
      message: `the deploy has ${paths.length} files; the limit is ${MAX_FILES}`,
    };
  }
  const bytes = paths.reduce((sum, p) => sum + new TextEncoder().encode(files[p]).length, 0);
  if (bytes > MAX_SOURCE_BYTES) {
    return {
      file: null,
      line: null,
      column: null,
      message: `the deploy has ${bytes} bytes of source; the limit is ${MAX_SOURCE_BYTES} (5 MB)`,
    };
  }
  return null;
}

/** Validates every path, and that there is a route; returns one diagnostic per problem. */
export function checkSourceFiles(files: Record<string, string>): Diagnostic[] {
  const paths = Object.keys(files);
  const problems: Diagnostic[] = [];
  for (const path of paths) {
    const problem = pathProblem(path);
    if (problem) problems.push({ file: path, line: null, column: null, message: problem });
  }
  if (problems.length === 0 && !paths.some(isRouteFile)) {
    problems.push({
      file: null,
      line: null,
      column: null,
      message: "the deploy has no route: add a .ts or .js file under api/, e.g. api/hello.ts",
    });
  }
  return problems;
}

/** A functions project on disk: collecting its files (with `.fnignore`) and showing diagnostics. */
import { isRouteFile, unsupportedHint } from "../runtime/deploy/source_files.ts";

/** Names never deployed, whatever `.fnignore` says. */
const ALWAYS_IGNORED = [".git", ".fn", "node_modules", ".fnignore", ".env"];

/** Folders and globs from `.fnignore` (one per line, `#` comments), as tests on a path. */
async function ignoreRules(dir: string): Promise<Array<(path: string) => boolean>> {
  let text = "";
  try {
    text = await Deno.readTextFile(`${dir}/.fnignore`);
  } catch { /* none */ }
  const patterns = text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  return [...ALWAYS_IGNORED, ...patterns].map((pattern) => {
    const clean = pattern.replace(/^\/+|\/+$/g, "");
    const regex = new RegExp(
      "^(?:.*/)?" + clean.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*") +
        "(?:/.*)?$",
    );
    return (path: string) => regex.test(path);
  });
}

/** Files the contract deploys: modules (.ts, .js) and the JSON they may import. */
const DEPLOYED = /\.(ts|js|json)$/;
/**
 * Module types other platforms accept: collected under api/ only so that `localProblems`
 * refuses them by name, never skipped without a word.
 */
const REFUSED_UNDER_API = /\.(mjs|cjs|jsx|tsx)$/;

/** Every deployable file under `dir` (path → text), skipping ignored ones. */
export async function collectFiles(dir: string): Promise<Record<string, string>> {
  const rules = await ignoreRules(dir);
  const files: Record<string, string> = {};
  async function walk(sub: string): Promise<void> {
    for await (const entry of Deno.readDir(sub ? `${dir}/${sub}` : dir)) {
      const path = sub ? `${sub}/${entry.name}` : entry.name;
      if (rules.some((ignored) => ignored(path))) continue;
      if (entry.isDirectory) await walk(path);
      else if (
        entry.isFile &&
        (DEPLOYED.test(entry.name) || (path.startsWith("api/") && REFUSED_UNDER_API.test(path)))
      ) {
        files[path] = await Deno.readTextFile(`${dir}/${path}`);
      }
    }
  }
  await walk("");
  return files;
}

/** What the server would refuse, found before sending: no routes, or api/ files of other types. */
export function localProblems(files: Record<string, string>): string[] {
  const problems: string[] = [];
  const routes = Object.keys(files).filter(isRouteFile);
  if (routes.length === 0) problems.push("no route files: add api/<name>.ts");
  for (const path of Object.keys(files)) {
    if (path.startsWith("api/") && !/\.(ts|js)$/.test(path) && !path.endsWith(".json")) {
      problems.push(`${path}: files under api/ must be .ts or .js${unsupportedHint(path)}`);
    }
  }
  return problems;
}

/** A diagnostic from the server. */
export interface Diagnostic {
  file: string | null;
  line: number | null;
  column: number | null;
  message: string;
}

/** `file:line:column: message` with the line and a caret under the column. */
export function codeFrame(d: Diagnostic, files: Record<string, string>): string {
  const where = [d.file, d.line, d.column].filter((x) => x !== null).join(":");
  const head = `${where ? `${where}: ` : ""}${d.message}`;
  if (!d.file || d.line === null || !Object.hasOwn(files, d.file)) return head;
  const lines = files[d.file]!.split("\n");
  const out = [head];
  for (let n = Math.max(1, d.line - 1); n <= Math.min(lines.length, d.line + 1); n++) {
    out.push(`${String(n).padStart(5)} | ${lines[n - 1]}`);
    if (n === d.line && d.column !== null) {
      out.push(`${" ".repeat(5)} | ${" ".repeat(Math.max(0, d.column - 1))}^`);
    }
  }
  return out.join("\n");
}

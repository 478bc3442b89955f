/**
 * A project's package imports, found by Deno's own module graph (`deno info --json`) and
 * resolved as Deno resolves them: the project's `deno.json` imports, its `package.json`
 * dependencies and `npm:` specifiers, pinned by its `deno.lock`.
 */
import { relative } from "node:path";
import { pathToFileURL } from "node:url";
import { CliError } from "./client.ts";

/** One npm package module the project imports: a package, its exact version, and a subpath. */
export interface PackageModule {
  name: string;
  version: string;
  /** `cors` for `hono/cors`; null for the package itself. */
  subpath: string | null;
}

/** Where an import's specifier starts in a file: 0-based. */
interface Span {
  start: { line: number; character: number };
}

/** An npm package in the graph, with where Deno keeps it on this machine. */
export interface GraphPackage {
  name: string;
  version: string;
  localPath: string;
}

/** What `deno info --json` tells of one module's imports. */
interface InfoDependency {
  specifier: string;
  code?: { specifier?: string; error?: string; span: Span };
  type?: { specifier?: string; error?: string; span: Span };
}

interface InfoOutput {
  modules: Array<{ local?: string; dependencies?: InfoDependency[] }>;
  redirects: Record<string, string>;
  npmPackages?: Record<string, GraphPackage>;
}

/** A resolved npm specifier: `npm:/name@exact-version[/subpath]`. */
const NPM_RESOLVED = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)@(\d[^/]*)(?:\/(.+))?$/;

/** Whether a specifier is relative or absolute (a file of the deploy), not a package. */
const isLocal = (specifier: string) => /^(\.{0,2}\/|file:)/.test(specifier);

/** The project's package imports, every npm package of its graph, and the imports refused. */
export interface ProjectImports {
  /** Each package specifier as written (`zod`, `npm:hono@4/cors`) → the module it names. */
  imports: Map<string, PackageModule>;
  packages: GraphPackage[];
  /** `file:line:column: message`, one per import that cannot be bundled. */
  problems: string[];
}

/** Runs `deno info --json` over every module of the project, from the project's folder. */
async function projectGraph(dir: string, modules: string[]): Promise<InfoOutput> {
  const temp = await Deno.makeTempDir({ prefix: "fn-imports-" });
  try {
    const entry = `${temp}/entry.ts`;
    const lines = modules.map((path) =>
      `import ${JSON.stringify(pathToFileURL(`${dir}/${path}`).href)};`
    );
    await Deno.writeTextFile(entry, lines.join("\n") + "\n");
    const output = await new Deno.Command(Deno.execPath(), {
      // Sloppy imports: the platform's compiler accepts "./lib" for ./lib.ts; the global npm
      // cache, so a package.json project needs no `npm install` first.
      args: ["info", "--json", "--node-modules-dir=none", "--unstable-sloppy-imports", entry],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      const why = new TextDecoder().decode(output.stderr).trim().split("\n")[0];
      throw new CliError(`cannot read the project's imports (deno info): ${why}`);
    }
    return JSON.parse(new TextDecoder().decode(output.stdout)) as InfoOutput;
  } finally {
    await Deno.remove(temp, { recursive: true });
  }
}

/** Where an import sits, as `file:line:column` (1-based, as editors count). */
function at(file: string, span: Span): string {
  return `${file}:${span.start.line + 1}:${span.start.character + 1}`;
}

/**
 * Finds the package imports of `files` (path → text, the project's files under `dir`). An
 * import Deno cannot resolve, of a registry other than npm, or that names two packages from
 * two files, is a problem naming its place.
 */
export async function projectImports(
  dir: string,
  files: Record<string, string>,
): Promise<ProjectImports> {
  const modules = Object.keys(files).filter((path) => /\.(ts|js)$/.test(path));
  const graph = await projectGraph(dir, modules);
  const imports = new Map<string, PackageModule>();
  const problems: string[] = [];
  for (const module of graph.modules) {
    if (!module.local) continue;
    const file = relative(dir, module.local);
    if (!Object.hasOwn(files, file)) continue;
    for (const { specifier, code } of module.dependencies ?? []) {
      // Type-only imports (no `code`) are dropped by the compiler; node: ones it refuses.
      if (isLocal(specifier) || specifier.startsWith("node:") || !code) continue;
      const where = at(file, code.span);
      if (code.error) {
        problems.push(
          `${where}: import "${specifier}" cannot be bundled: ${code.error}; add the package ` +
            `to deno.json's "imports" (deno add npm:<name>) or to package.json's dependencies`,
        );
        continue;
      }
      const resolved = graph.redirects[code.specifier!] ?? code.specifier!;
      const match = resolved.match(NPM_RESOLVED);
      if (!match) {
        problems.push(
          `${where}: import "${specifier}" resolves to ${resolved}: only npm packages are ` +
            `bundled (jsr: and http(s): modules are not)`,
        );
        continue;
      }
      const found = { name: match[1]!, version: match[2]!, subpath: match[3] ?? null };
      const known = imports.get(specifier);
      if (known && JSON.stringify(known) !== JSON.stringify(found)) {
        problems.push(
          `${where}: import "${specifier}" names ${found.name}@${found.version} here and ` +
            `${known.name}@${known.version} in another file: one specifier, one package`,
        );
        continue;
      }
      imports.set(specifier, found);
    }
  }
  return { imports, packages: Object.values(graph.npmPackages ?? {}), problems };
}

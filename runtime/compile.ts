/**
 * Compiles a deploy's source files with esbuild: each route file becomes one self-contained
 * ES module (its relative imports bundled in). Runs once per deployment, never per request.
 */
import * as esbuild from "esbuild";
import { HttpError } from "./errors.ts";
import { planRoutes, type Route } from "./router.ts";
import { checkSourceFiles, isRouteFile } from "./source_files.ts";

/** One problem found in a deploy; `file`, `line` and `column` (1-based) are null where none applies. */
export interface Diagnostic {
  file: string | null;
  line: number | null;
  column: number | null;
  message: string;
}

/** A deploy refused for its code: 400 with every diagnostic, the first one in `error`. */
export class CompileError extends HttpError {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(400, `deploy refused: ${formatDiagnostic(diagnostics[0])}`, { diagnostics });
    this.name = "CompileError";
  }
}

/** What a deployment runs: a module per route file, its routes, and source maps for stack traces. */
export interface CompiledCode {
  /** route file → bundled ES module source */
  modules: Record<string, string>;
  /** route file → esbuild source map (JSON text) */
  sourceMaps: Record<string, string>;
  routes: Route[];
}

/** Renders a diagnostic as `file:line:column: message`. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = [d.file, d.line, d.column].filter((x) => x !== null).join(":");
  return where ? `${where}: ${d.message}` : d.message;
}

const LOADERS: Record<string, esbuild.Loader> = {
  ".ts": "ts",
  ".mts": "ts",
  ".js": "js",
  ".mjs": "js",
  ".json": "json",
};

function loaderFor(path: string): esbuild.Loader | undefined {
  const ext = path.match(/\.[^./]+$/)?.[0] ?? "";
  return LOADERS[ext];
}

/** Resolves `spec` relative to `importer`; null when it climbs above the root. */
function resolveRelative(importer: string, spec: string): string | null {
  const parts = importer.split("/").slice(0, -1);
  for (const segment of spec.split("/")) {
    if (segment === "." || segment === "") continue;
    if (segment === "..") {
      if (parts.length === 0) return null;
      parts.pop();
    } else parts.push(segment);
  }
  return parts.join("/");
}

function sourceFilesPlugin(files: Record<string, string>): esbuild.Plugin {
  return {
    name: "source-files",
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === "entry-point") return { path: args.path, namespace: "src" };
        const spec = args.path;
        if (!spec.startsWith("./") && !spec.startsWith("../")) {
          return {
            errors: [{
              text: `import "${spec}" is not allowed: only relative imports between the ` +
                `deployed files work ("./lib.ts"); packages and npm:, jsr:, node:, http(s): ` +
                `and data: imports are refused`,
            }],
          };
        }
        const resolved = resolveRelative(args.importer, spec);
        if (resolved === null) {
          return { errors: [{ text: `import "${spec}" leaves the app's source tree` }] };
        }
        const candidates = [
          resolved,
          `${resolved}.ts`,
          `${resolved}.js`,
          `${resolved}/index.ts`,
          `${resolved}/index.js`,
        ];
        const found = candidates.find((c) => Object.hasOwn(files, c));
        if (!found) {
          return {
            errors: [{ text: `import "${spec}" names ${resolved}, which is not in the deploy` }],
          };
        }
        return { path: found, namespace: "src" };
      });
      build.onLoad({ filter: /.*/, namespace: "src" }, (args) => {
        const loader = loaderFor(args.path);
        if (!loader) {
          return {
            errors: [{
              text: `${args.path} cannot be imported: only .ts, .js and .json files can be`,
            }],
          };
        }
        return { contents: files[args.path], loader };
      });
    },
  };
}

function toDiagnostic(message: esbuild.Message): Diagnostic {
  const loc = message.location;
  return {
    file: loc ? loc.file.replace(/^src:/, "") : null,
    line: loc ? loc.line : null,
    column: loc ? loc.column + 1 : null,
    message: message.text,
  };
}

/** Checks, routes and bundles a deploy; throws CompileError (400) with diagnostics. */
export async function compile(files: Record<string, string>): Promise<CompiledCode> {
  const problems = checkSourceFiles(files);
  if (problems.length > 0) throw new CompileError(problems);
  const routeFiles = Object.keys(files).filter(isRouteFile).sort();
  const { routes, problems: routeProblems } = planRoutes(routeFiles);
  if (routeProblems.length > 0) throw new CompileError(routeProblems);

  let result: esbuild.BuildResult<{ write: false; metafile: true }>;
  try {
    result = await esbuild.build({
      entryPoints: routeFiles.map((file, i) => ({ in: file, out: `route${i}` })),
      outdir: "/out",
      bundle: true,
      write: false,
      metafile: true,
      format: "esm",
      platform: "neutral",
      target: "esnext",
      charset: "utf8",
      sourcemap: "external",
      sourcesContent: false,
      logLevel: "silent",
      // A computed import() or require() would load whatever the sandbox can reach at run time.
      logOverride: { "unsupported-dynamic-import": "error", "unsupported-require-call": "error" },
      // Every import is resolved (and so checked), even one TypeScript would drop as unused.
      tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true } },
      plugins: [sourceFilesPlugin(files)],
    });
  } catch (error) {
    const failure = error as esbuild.BuildFailure;
    if (!Array.isArray(failure.errors)) throw error;
    throw new CompileError(failure.errors.map(toDiagnostic));
  }

  const modules: Record<string, string> = {};
  const sourceMaps: Record<string, string> = {};
  const missingDefault: Diagnostic[] = [];
  for (const [i, file] of routeFiles.entries()) {
    const code = result.outputFiles.find((o) => o.path === `/out/route${i}.js`)!;
    const map = result.outputFiles.find((o) => o.path === `/out/route${i}.js.map`)!;
    const meta = Object.entries(result.metafile.outputs).find(([k]) => k.endsWith(`route${i}.js`))
      ?.[1];
    if (!meta?.exports.includes("default")) {
      missingDefault.push({
        file,
        line: 1,
        column: 1,
        message: "no default export: a route file must `export default` a function of ctx",
      });
    }
    modules[file] = code.text.replace(/\n\/\/# sourceMappingURL=.*\n?$/, "\n");
    sourceMaps[file] = map.text;
  }
  if (missingDefault.length > 0) throw new CompileError(missingDefault);
  return { modules, sourceMaps, routes };
}

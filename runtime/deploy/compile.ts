/**
 * Compiles a deploy's source files with esbuild into one ES module with a route table: every
 * module is compiled once, however many routes import it. Runs once per deployment, never per
 * request, inside a compile process (compiler/child.ts) whose memory, CPU and time the host
 * bounds (compiler/pool.ts), after a linear pre-scan and under an output bound.
 */
import * as esbuild from "esbuild";
import { CompileError, type Diagnostic } from "./diagnostic.ts";
import { importMapOf, packagesOf } from "./packages.ts";
import { planRoutes, type Route } from "./router.ts";
import { checkSourceFiles, isRouteFile, sourceLimitProblem } from "./source_files.ts";
import { scanSource } from "./source_scan.ts";

/** A diagnostic of the whole deploy (no file), for the limits. */
function limitError(message: string, tooLarge = false): CompileError {
  return new CompileError([{ file: null, line: null, column: null, message }], {
    limit: true,
    tooLarge,
  });
}

/** What a deployment runs: its bundle, its routes, and source maps for stack traces. */
export interface CompiledCode {
  /**
   * `{ [BUNDLE]: source }`: one ES module exporting `modules` (route file → its exports).
   * Deployments stored before the bundle have a module per route file instead.
   */
  modules: Record<string, string>;
  /** module name (BUNDLE) → esbuild source map (JSON text) */
  sourceMaps: Record<string, string>;
  routes: Route[];
  /**
   * name → version of each npm package the deploy bundled (its `_packages/` modules), set by
   * the compiler pool from the deploy's files; absent when it bundled none.
   */
  packages?: Record<string, string>;
}

/** The name of a deployment's single bundle in `modules` and `sourceMaps`. */
export const BUNDLE = "$bundle";
/** Largest compiled bundle, in bytes (16 MB): compiled code stays close to the source's size. */
const MAX_COMPILED_BYTES = 16 * 1024 * 1024;

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

/**
 * Resolves imports among the deployed files only: relative ones, and the package specifiers
 * `packages` maps to the modules `fn deploy` bundled into the deploy (`_packages/imports.json`).
 */
function sourceFilesPlugin(
  files: Record<string, string>,
  packages: Map<string, string>,
): esbuild.Plugin {
  return {
    name: "source-files",
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === "entry-point") return { path: args.path, namespace: "src" };
        const spec = args.path;
        const bundled = packages.get(spec);
        if (bundled !== undefined) return { path: bundled, namespace: "src" };
        if (spec.startsWith("node:")) {
          return {
            errors: [{
              text: `import "${spec}" is not allowed: the sandbox has no Node.js built-ins. ` +
                `Use the web APIs it has: crypto.subtle and crypto.getRandomValues for ` +
                `node:crypto, TextEncoder, fetch, URL, ReadableStream, setTimeout; and ` +
                `ctx.env for process.env`,
            }],
          };
        }
        if (!spec.startsWith("./") && !spec.startsWith("../")) {
          return {
            errors: [{
              text: `import "${spec}" is not allowed: only relative imports between the ` +
                `deployed files work ("./lib.ts"), as the sandbox loads no package at run ` +
                `time. To use an npm package, deploy with fn deploy (or fn dev): it bundles ` +
                `the project's npm: imports and the packages named in its deno.json imports ` +
                `or package.json dependencies into the deploy. jsr:, http(s): and data: imports ` +
                `are refused`,
            }],
          };
        }
        // The generated entry (stdin) sits at the root of the tree.
        const resolved = resolveRelative(args.namespace === "src" ? args.importer : "", spec);
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
        return { contents: files[args.path] ?? "", loader, resolveDir: NO_DIR };
      });
      // Nothing is ever read from the host's disk: a glob import would list and load real files.
      build.onLoad({ filter: /.*/ }, (args) => ({
        errors: [{
          text: `${args.path} cannot be imported: only the deployed files can be, by a ` +
            `literal relative path`,
        }],
      }));
    },
  };
}

/** An esbuild message as a diagnostic; one about the generated entry names its route file. */
function toDiagnostic(message: esbuild.Message, routeFiles: string[]): Diagnostic {
  const loc = message.location;
  if (loc?.file === ENTRY) {
    return { file: routeFiles[loc.line - 1] ?? null, line: 1, column: 1, message: message.text };
  }
  return {
    file: loc ? loc.file.replace(/^src:/, "") : null,
    line: loc ? loc.line : null,
    column: loc ? loc.column + 1 : null,
    message: message.text,
  };
}

/**
 * The entry that imports every route and exports the route modules (each one's namespace: the
 * sandbox tells its shape from its default and method exports) and their schedules.
 */
function entrySource(routeFiles: string[]): string {
  const imports = routeFiles.map((file, i) =>
    `import * as m${i} from ${JSON.stringify(`./${file}`)};`
  );
  const table = routeFiles.map((file, i) => `${JSON.stringify(file)}: m${i}`).join(", ");
  const schedules = routeFiles.map((file, i) => `${JSON.stringify(file)}: m${i}.schedule`).join(
    ", ",
  );
  return `${imports.join("\n")}\nexport const modules = { ${table} };\n` +
    `export const schedules = { ${schedules} };\n`;
}

const ENTRY = "<routes>";
/** A folder that does not exist: the compiler's working folder, so it can read no host files. */
const NO_DIR = "/nonexistent-deploy-sources";

/** Whether an esbuild error means its service died (and needs a restart), not the input. */
function serviceDied(error: unknown): boolean {
  const message = (error as Error)?.message ?? "";
  return /service (was stopped|is no longer running)|The service was stopped/.test(message);
}

function build(files: Record<string, string>, routeFiles: string[], packages: Map<string, string>) {
  return esbuild.build({
    stdin: {
      contents: entrySource(routeFiles),
      sourcefile: ENTRY,
      loader: "js",
      resolveDir: NO_DIR,
    },
    // A glob import ("./" + name) would list a real folder: point esbuild at none at all.
    absWorkingDir: NO_DIR,
    outfile: "/out/bundle.js",
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
    logOverride: {
      "unsupported-dynamic-import": "error",
      "unsupported-require-call": "error",
      "empty-glob": "error",
    },
    // Every import is resolved (and so checked), even one TypeScript would drop as unused.
    tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true } },
    plugins: [sourceFilesPlugin(files, packages)],
  });
}

/** Builds; a death of the esbuild service is this deploy's doing (one compile runs at a time). */
async function buildOrRefuse(
  files: Record<string, string>,
  routeFiles: string[],
  packages: Map<string, string>,
) {
  try {
    return await build(files, routeFiles, packages);
  } catch (error) {
    if (!serviceDied(error)) throw error;
    // The next build starts a fresh service.
    await esbuild.stop();
    throw limitError("the compiler crashed on this deploy (too deeply nested or too large code?)");
  }
}

/**
 * Checks, routes and bundles a deploy in this process; throws CompileError with diagnostics.
 * The host calls it through a CompilerPool, which runs it in a bounded compile process.
 */
export async function compile(files: Record<string, string>): Promise<CompiledCode> {
  const tooLarge = sourceLimitProblem(files);
  if (tooLarge) throw new CompileError([tooLarge], { limit: true });
  const problems = checkSourceFiles(files);
  if (problems.length > 0) throw new CompileError(problems);
  const imports = importMapOf(files);
  const packageProblems = [...imports.problems, ...packagesOf(Object.keys(files)).problems];
  if (packageProblems.length > 0) throw new CompileError(packageProblems);
  const routeFiles = Object.keys(files).filter(isRouteFile).sort();
  const { routes, problems: routeProblems } = planRoutes(routeFiles);
  if (routeProblems.length > 0) throw new CompileError(routeProblems);
  const scanned = Object.entries(files).flatMap(([file, source]) =>
    loaderFor(file) && loaderFor(file) !== "json"
      ? [scanSource(file, source)].filter((d) => d !== null)
      : []
  );
  if (scanned.length > 0) {
    const diagnostics = scanned.map(({ limit: _, ...diagnostic }) => diagnostic);
    throw new CompileError(diagnostics, { limit: scanned.some((p) => p.limit) });
  }

  let result: esbuild.BuildResult<{ write: false; metafile: true }>;
  try {
    result = await buildOrRefuse(files, routeFiles, imports.imports);
  } catch (error) {
    const failure = error as esbuild.BuildFailure;
    if (!Array.isArray(failure.errors)) throw error;
    throw new CompileError(failure.errors.map((m) => toDiagnostic(m, routeFiles)));
  }
  const code = result.outputFiles.find((o) => o.path.endsWith("/bundle.js"))!;
  const map = result.outputFiles.find((o) => o.path.endsWith("/bundle.js.map"))!;
  if (code.contents.length > MAX_COMPILED_BYTES) {
    throw limitError(
      `the compiled code is ${code.contents.length} bytes, over the limit of ` +
        `${MAX_COMPILED_BYTES} bytes (16 MB)`,
      true,
    );
  }
  return {
    modules: { [BUNDLE]: code.text.replace(/\n\/\/# sourceMappingURL=.*\n?$/, "\n") },
    sourceMaps: { [BUNDLE]: map.text },
    routes,
  };
}

/**
 * Where a deploy keeps the npm packages `fn deploy` bundled into it: one module per package,
 * version and subpath under `_packages/` (outside `api/`, so no route), named so that the
 * deployment can record which packages and versions it holds from its file names alone.
 */
import type { Diagnostic } from "./diagnostic.ts";

/** The folder of a deploy's bundled packages, at the root of its source tree. */
export const PACKAGES_DIR = "_packages";

/**
 * The deploy's map of package specifiers, as its files write them (`zod`, `npm:hono@4/cors`),
 * to the package modules that `fn deploy` bundled (`_packages/zod@3.23.8.js`): JSON text.
 */
export const PACKAGES_IMPORT_MAP = `${PACKAGES_DIR}/imports.json`;

/**
 * A package module's file stem: `zod@3.23.8`, `hono@4.6.3+cors` for the subpath `hono/cors`,
 * `@hono+zod-validator@0.4.1` for a scoped name (`/` becomes `+`: npm names never hold a `+`).
 * All stems sit in one folder, so modules import their shared chunks as `./chunk-….js`.
 */
export function packageStem(name: string, version: string, subpath: string | null): string {
  const flat = (text: string) => text.replaceAll("/", "+");
  return `${flat(name)}@${version}${subpath ? `+${flat(subpath)}` : ""}`;
}

/** The deployed path of a package module: `_packages/<stem>.js`. */
export function packageModulePath(name: string, version: string, subpath: string | null): string {
  return `${PACKAGES_DIR}/${packageStem(name, version, subpath)}.js`;
}

/** A package module's path: its name (scope flattened), its version, and any subpath. */
const MODULE_PATH = /^_packages\/((?:@[^/@+]+\+)?[^/@+]+)@([^/@+]+?)(?:\+[^/]+)?\.js$/;

/**
 * The packages a deploy holds, name → version, read from its `_packages/<stem>.js` paths
 * (shared chunks and other files there name no package). Two versions of one package are a
 * problem: a deployment records one version per package.
 */
export function packagesOf(
  paths: string[],
): { packages: Record<string, string>; problems: Diagnostic[] } {
  const packages: Record<string, string> = Object.create(null);
  const problems: Diagnostic[] = [];
  for (const path of [...paths].sort()) {
    const match = path.match(MODULE_PATH);
    if (!match) continue;
    const name = match[1]!.replace("+", "/");
    const version = match[2]!;
    const known = packages[name];
    if (known !== undefined && known !== version) {
      problems.push({
        file: path,
        line: null,
        column: null,
        message: `the deploy bundles package "${name}" at two versions, ${known} and ${version}: ` +
          "import one version of each package",
      });
    } else packages[name] = version;
  }
  return { packages, problems };
}

/**
 * The deploy's package specifiers (specifier → deployed path) from `_packages/imports.json`,
 * empty when it has none; a map that is not an object of specifiers to package modules of the
 * deploy is a problem on that file.
 */
export function importMapOf(
  files: Record<string, string>,
): { imports: Map<string, string>; problems: Diagnostic[] } {
  const imports = new Map<string, string>();
  if (!Object.hasOwn(files, PACKAGES_IMPORT_MAP)) return { imports, problems: [] };
  const problem = (message: string) => ({
    imports,
    problems: [{ file: PACKAGES_IMPORT_MAP, line: null, column: null, message }],
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(files[PACKAGES_IMPORT_MAP]!);
  } catch (error) {
    return problem(`not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return problem(
      'must be an object of specifier → package module, like {"zod": ' +
        '"_packages/zod@3.23.8.js"}',
    );
  }
  for (const [specifier, path] of Object.entries(parsed)) {
    if (typeof path !== "string" || !MODULE_PATH.test(path) || !Object.hasOwn(files, path)) {
      return problem(
        `"${specifier}" must name a package module of the deploy (_packages/<name>@<version>.js)`,
      );
    }
    imports.set(specifier, path);
  }
  return { imports, problems: [] };
}

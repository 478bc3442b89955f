/**
 * Bundling a project's npm packages into its deploy (`fn deploy`, `fn dev`): every package
 * module the project imports becomes one module `_packages/<name>@<version>[+subpath].js`
 * (esbuild's code splitting, through `deno bundle`, puts what several of them share in
 * `_packages/chunk-….js`, so each package's code is there once, however many routes import
 * it), and `_packages/imports.json` maps each specifier as written to its module, which the
 * platform's compiler resolves like a relative import. The sandbox loads nothing at run time.
 * A package that needs a Node built-in, another module at run time, or a computed import is
 * refused, naming the package.
 */
import { isBuiltin } from "node:module";
import { relative } from "node:path";
import * as esbuild from "esbuild";
import { CliError } from "./client.ts";
import { type GraphPackage, type PackageModule, projectImports } from "./imports.ts";
import { PACKAGES_DIR, PACKAGES_IMPORT_MAP, packageStem } from "../runtime/deploy/packages.ts";

/** A deploy with its packages bundled: the files to send and the packages they hold. */
export interface BundledDeploy {
  files: Record<string, string>;
  /** name → version of each package the project imports. */
  packages: Record<string, string>;
}

/** `_packages/` file name → text, as `deno bundle` wrote them, for one set of modules. */
type Outputs = Record<string, string>;

/** What the sandbox cannot give a package, found in its bundled code. */
interface Finding {
  /** The output file (under `_packages/`) it is in. */
  file: string;
  /** 1-based line in that file, when known. */
  line: number | null;
  what: string;
}

/**
 * Bundles projects' packages, keeping the last set's modules: `fn dev` redeploys on every save,
 * and the packages seldom change between two.
 */
export class PackageBundler {
  #last: { key: string; outputs: Outputs } | null = null;

  /**
   * `files` (the project under `dir`) with its package modules added, or unchanged when it
   * imports none. Throws CliError naming each import or package that cannot be bundled.
   */
  async bundle(dir: string, files: Record<string, string>): Promise<BundledDeploy> {
    const found = await projectImports(dir, files);
    if (found.problems.length > 0) throw new CliError(found.problems.join("\n"));
    if (found.imports.size === 0) return { files, packages: {} };
    const modules = new Map<string, PackageModule>();
    const packages: Record<string, string> = {};
    for (const module of found.imports.values()) {
      const known = packages[module.name];
      if (known !== undefined && known !== module.version) {
        throw new CliError(
          `package "${module.name}" is imported at two versions, ${known} and ` +
            `${module.version}: import one version of each package`,
        );
      }
      packages[module.name] = module.version;
      modules.set(packageStem(module.name, module.version, module.subpath), module);
    }
    const key = [...modules.keys()].sort().join("\n");
    if (this.#last?.key !== key) {
      this.#last = { key, outputs: await bundleModules(modules, found.packages, dir) };
    }
    const importMap = Object.fromEntries(
      [...found.imports].sort(([a], [b]) => a < b ? -1 : 1).map(([specifier, module]) => [
        specifier,
        `${PACKAGES_DIR}/${packageStem(module.name, module.version, module.subpath)}.js`,
      ]),
    );
    const out = { ...files };
    for (const [name, text] of Object.entries(this.#last.outputs)) {
      out[`${PACKAGES_DIR}/${name}`] = text;
    }
    out[PACKAGES_IMPORT_MAP] = JSON.stringify(importMap, null, 2) + "\n";
    return { files: out, packages };
  }
}

/** `bundled zod@3.23.8, hono@4.6.3: 3 modules, 180412 bytes in _packages/` for the CLI's output. */
export function bundledSummary(
  own: Record<string, string>,
  files: Record<string, string>,
  packages: Record<string, string>,
): string {
  const added = Object.keys(files).filter((path) => !Object.hasOwn(own, path));
  const bytes = added.reduce((n, path) => n + files[path]!.length, 0);
  const names = Object.entries(packages).map(([name, version]) => `${name}@${version}`);
  return `bundled ${names.join(", ")}: ${added.length} files, ${bytes} bytes in ${PACKAGES_DIR}/`;
}

/** An entry re-exporting one package module whole, its default export included when it has one. */
function entrySource({ name, version, subpath }: PackageModule): string {
  const specifier = JSON.stringify(`npm:${name}@${version}${subpath ? `/${subpath}` : ""}`);
  // `deno bundle` drops the default re-export of a module that has none.
  return `export * from ${specifier};\nexport { default } from ${specifier};\n`;
}

/** Runs `deno bundle` over one entry per module, in a temporary folder; answers the outputs. */
async function bundleModules(
  modules: Map<string, PackageModule>,
  graphPackages: GraphPackage[],
  dir: string,
): Promise<Outputs> {
  const temp = await Deno.makeTempDir({ prefix: "fn-packages-" });
  try {
    const entries: string[] = [];
    for (const [stem, module] of modules) {
      entries.push(`src/${stem}.ts`);
      await Deno.mkdir(`${temp}/src`, { recursive: true });
      await Deno.writeTextFile(`${temp}/src/${stem}.ts`, entrySource(module));
    }
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        // The sandbox is a web worker: packages' browser builds are the ones made for it.
        "--platform",
        "browser",
        "--code-splitting",
        "--no-config",
        "--no-lock",
        "--node-modules-dir=none",
        "--outdir",
        "out",
        ...entries,
      ],
      cwd: temp,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      const why = new TextDecoder().decode(output.stderr).split("\n")
        .filter((line) => line.trim() && !line.includes("experimental")).join("\n");
      throw new CliError(`bundling the packages failed (deno bundle):\n${why}`);
    }
    const outputs: Outputs = {};
    for await (const entry of Deno.readDir(`${temp}/out`)) {
      if (!entry.isFile) {
        throw new CliError(`deno bundle wrote ${entry.name}/, not one folder of modules`);
      }
      const text = await Deno.readTextFile(`${temp}/out/${entry.name}`);
      outputs[entry.name] = withoutLocalPaths(text, entry.name, temp, dir, graphPackages);
    }
    const findings = await runTimeNeeds(outputs);
    if (findings.length > 0) throw new CliError(refusal(findings, outputs, modules));
    return outputs;
  } finally {
    await Deno.remove(temp, { recursive: true });
  }
}

/**
 * `text` with every path of this machine replaced: esbuild names each bundled file by its path
 * from the working folder (`// ../../root/.cache/deno/npm/registry.npmjs.org/zod/3.23.8/…`, and
 * as CommonJS modules' keys), which becomes `zod@3.23.8/…`. A local path left over is an error.
 */
function withoutLocalPaths(
  text: string,
  file: string,
  temp: string,
  dir: string,
  graphPackages: GraphPackage[],
): string {
  let out = text;
  // Longest first: a package nested in another's folder is replaced before its parent.
  const byDepth = [...graphPackages].sort((a, b) => b.localPath.length - a.localPath.length);
  for (const pkg of byDepth) {
    const label = `${pkg.name}@${pkg.version}`;
    out = out.replaceAll(`${relative(temp, pkg.localPath)}/`, `${label}/`)
      .replaceAll(`${pkg.localPath}/`, `${label}/`);
  }
  const home = Deno.env.get("HOME");
  const local = [temp, dir, ...(home && home !== "/" ? [`${home}/`] : [])];
  const left = local.find((path) => out.includes(path)) ??
    out.match(/^\/\/ \.\.\/.*$/m)?.[0];
  if (left) {
    throw new CliError(`bundling left a path of this machine (${left}) in ${file}; not deployed`);
  }
  return out;
}

/** `__require("x")`: esbuild's call for a `require` of a module it left outside the bundle. */
const RUNTIME_REQUIRE = /\b__require\(\s*(?:"([^"]*)")?/g;

/** The line (1-based) of `offset` in `text`. */
function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

/**
 * What the bundled packages would need at run time that the sandbox does not have: imports
 * left outside the bundle (Node built-ins, modules not found) and computed imports, found by
 * esbuild's parser; `require` calls of modules left outside, by esbuild's own call for them.
 */
async function runTimeNeeds(outputs: Outputs): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const [file, text] of Object.entries(outputs)) {
    const outside = new Set<string>();
    let failure: esbuild.BuildFailure | null = null;
    try {
      await esbuild.build({
        stdin: { contents: text, sourcefile: file, loader: "js" },
        bundle: true,
        write: false,
        format: "esm",
        platform: "neutral",
        logLevel: "silent",
        logOverride: { "unsupported-dynamic-import": "error", "unsupported-require-call": "error" },
        plugins: [{
          name: "outside",
          setup(build) {
            build.onResolve({ filter: /.*/ }, (args) => {
              if (!args.path.startsWith("./")) outside.add(args.path);
              return { path: args.path, external: true };
            });
          },
        }],
      });
    } catch (error) {
      if (!Array.isArray((error as esbuild.BuildFailure).errors)) throw error;
      failure = error as esbuild.BuildFailure;
    }
    for (const path of outside) findings.push({ file, line: null, what: path });
    for (const message of failure?.errors ?? []) {
      findings.push({
        file,
        line: message.location?.line ?? null,
        what: `a computed import (${message.location?.lineText.trim() ?? message.text})`,
      });
    }
    for (const match of text.matchAll(RUNTIME_REQUIRE)) {
      findings.push({
        file,
        line: lineAt(text, match.index),
        what: match[1] ?? "a computed require()",
      });
    }
  }
  return findings;
}

/** The packages whose modules include `file`: its own, or those that import a shared chunk. */
function ownersOf(file: string, outputs: Outputs, modules: Map<string, PackageModule>): string[] {
  const stem = file.replace(/\.js$/, "");
  const own = modules.get(stem);
  if (own) return [own.name];
  const owners = new Set<string>();
  for (const [other, text] of Object.entries(outputs)) {
    if (other !== file && text.includes(`"./${file}"`)) {
      for (const owner of ownersOf(other, outputs, modules)) owners.add(owner);
    }
  }
  return [...owners];
}

/** The bundled file a line of an output comes from (`zod@3.23.8/lib/index.mjs`), when marked. */
function sourceOf(text: string, line: number | null): string | null {
  if (line === null) return null;
  const lines = text.split("\n").slice(0, line).reverse();
  return lines.find((l) => /^\/\/ \S+@[^/\s]+\/\S+$/.test(l))?.slice(3) ?? null;
}

/**
 * One line per package: the Node built-ins it needs, the modules it would load at run time and
 * its computed imports, each once with where it is first found; then what to do instead.
 */
function refusal(findings: Finding[], outputs: Outputs, modules: Map<string, PackageModule>) {
  /** owners → built-ins and other needs, each (once) → where it is first found. */
  const needs = new Map<string, { builtins: Map<string, string>; other: Map<string, string> }>();
  for (const finding of findings) {
    const owners = ownersOf(finding.file, outputs, modules).map((n) => `"${n}"`).join(", ");
    const from = sourceOf(outputs[finding.file] ?? "", finding.line);
    const builtin = isBuiltin(finding.what);
    const what = builtin
      ? `${finding.what.startsWith("node:") ? "" : "node:"}${finding.what}`
      : finding.what.startsWith("a computed")
      ? finding.what
      : `"${finding.what}" loaded at run time`;
    const entry = needs.get(owners) ?? { builtins: new Map(), other: new Map() };
    const list = builtin ? entry.builtins : entry.other;
    if (!list.has(what)) list.set(what, from ? `${what} (in ${from})` : what);
    needs.set(owners, entry);
  }
  const builtins = [...needs.values()].some((entry) => entry.builtins.size > 0);
  const lines = [...needs].map(([owners, entry]) => {
    const names = [...entry.builtins.values()];
    const parts = [
      ...(names.length > 0
        ? [`the Node built-in${names.length > 1 ? "s" : ""} ${names.join(", ")}`]
        : []),
      ...entry.other.values(),
    ];
    return `package ${owners} needs ${parts.join("; and ")}`;
  });
  const advice =
    (builtins
      ? "functions run on web APIs (fetch, Web Crypto, streams), not Node's: use a package made " +
        "for the web or edge runtimes. "
      : "") +
    "A deploy loads no module at run time: only packages whose code imports literal, " +
    "bundleable modules can be deployed.";
  return ["cannot bundle the project's packages:", ...lines, advice].join("\n");
}

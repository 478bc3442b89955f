/**
 * The layers, checked on the sources: no import cycle among the server's modules, `runtime/`
 * never imports `routes/` (HTTP stays at the edge), and code that runs in a sandbox process
 * imports nothing of the host. Each check also runs on a planted violation, so it can fail.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const FOLDERS = ["runtime/", "routes/", "cli/", "studio/"];

/** Relative module specifiers of a source, from its import and export statements. */
export function importsOf(text: string): string[] {
  return [...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"(\.{1,2}\/[^"]+)"/gms)]
    .map((m) => m[1]!);
}

/** Module path (from the repository root) → the module paths it imports. */
type Graph = Map<string, string[]>;

async function sourceGraph(): Promise<Graph> {
  const graph: Graph = new Map();
  const visit = async (dir: string) => {
    for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
      const path = `${dir}${entry.name}`;
      if (entry.isDirectory) await visit(`${path}/`);
      else if (entry.name.endsWith(".ts")) {
        const text = await Deno.readTextFile(new URL(path, ROOT));
        const base = new URL(path, ROOT);
        graph.set(
          path,
          importsOf(text).map((spec) => new URL(spec, base).href.slice(ROOT.href.length)),
        );
      }
    }
  };
  for (const folder of FOLDERS) await visit(folder);
  graph.set("main.ts", importsOf(await Deno.readTextFile(new URL("main.ts", ROOT))));
  return graph;
}

/** One import cycle as a path of modules, or null when the graph has none. */
export function findCycle(graph: Graph): string[] | null {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === "done") return null;
    if (state.get(node) === "open") return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, "done");
    return null;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return null;
}

/** Imports that cross a forbidden boundary, as "from → to". */
export function forbiddenImports(graph: Graph): string[] {
  const rules: Array<[from: string, to: string[]]> = [
    ["runtime/", ["routes/", "cli/", "studio/", "main.ts"]],
    ["routes/", ["cli/", "main.ts"]],
    ["runtime/sandbox/child/", ["runtime/sandbox/host/"]],
  ];
  const found: string[] = [];
  for (const [module, targets] of graph) {
    for (const target of targets) {
      for (const [from, to] of rules) {
        if (module.startsWith(from) && to.some((t) => target.startsWith(t))) {
          found.push(`${module} → ${target}`);
        }
      }
    }
  }
  return found;
}

Deno.test("the server's modules import each other without a cycle", async () => {
  const graph = await sourceGraph();
  assert.ok(graph.size > 50, `only ${graph.size} modules were read`);
  const cycle = findCycle(graph);
  assert.equal(cycle, null, `import cycle: ${cycle?.join(" → ")}`);
});

Deno.test("runtime/ imports no HTTP layer, and sandbox code imports nothing of the host", async () => {
  assert.deepEqual(forbiddenImports(await sourceGraph()), []);
});

Deno.test("the layer checks fail on a planted cycle and on planted forbidden imports", () => {
  const graph: Graph = new Map([["runtime/ok.ts", []]]);
  assert.equal(findCycle(graph), null);
  graph.set("runtime/planted_a.ts", ["runtime/planted_b.ts"]);
  graph.set("runtime/planted_b.ts", ["runtime/planted_a.ts"]);
  assert.deepEqual(findCycle(graph)?.sort(), [
    "runtime/planted_a.ts",
    "runtime/planted_a.ts",
    "runtime/planted_b.ts",
  ]);
  graph.set("runtime/planted_c.ts", ["routes/app.ts"]);
  graph.set("runtime/sandbox/child/planted.ts", ["runtime/sandbox/host/supervisor.ts"]);
  assert.deepEqual(forbiddenImports(graph).sort(), [
    "runtime/planted_c.ts → routes/app.ts",
    "runtime/sandbox/child/planted.ts → runtime/sandbox/host/supervisor.ts",
  ]);
  assert.deepEqual(importsOf(`import { a } from "./a.ts";\nexport type { B } from "../b.ts";`), [
    "./a.ts",
    "../b.ts",
  ]);
});

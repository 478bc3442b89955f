/**
 * The shape of a JavaScript value of plain data (parsed JSON, a call's arguments): how deeply its
 * arrays and objects nest, and how many arrays, objects and keys it holds.
 */

/** What a value may hold: `depth` levels (the outermost array or object is level 1), `nodes`. */
export interface ValueShapeLimits {
  depth: number;
  /** Arrays, objects and object keys in all; Infinity when not counted. */
  nodes: number;
}

/**
 * Which limit `value` goes past, or null. Walks each array and object once, without recursion,
 * and stops at the first problem; strings are not read.
 */
export function valueShapeProblem(
  value: unknown,
  limits: ValueShapeLimits,
): "depth" | "nodes" | null {
  let nodes = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== "object" || item === null) continue;
    if (depth > limits.depth) return "depth";
    const children = Array.isArray(item) ? item : Object.values(item);
    nodes += Array.isArray(item) ? 1 : 1 + children.length;
    if (nodes > limits.nodes) return "nodes";
    for (const child of children) stack.push([child, depth + 1]);
  }
  return null;
}

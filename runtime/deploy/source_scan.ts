/**
 * A linear pre-check of a deployed source file, run before esbuild sees it: a small lexer that
 * skips strings, template literals, comments and regular expressions, and finds
 * - brackets nested deeper than MAX_NESTING (the compiler's parser recurses on them),
 * - runs of more than MAX_OPERATOR_RUN prefix operators (`!!!…`, `typeof typeof …`) or chained
 *   assignments (`a=a=a…`), on which the compiler's parser recurses too, and
 * - `import(…)` or `require(…)` whose argument is not one string literal: esbuild would expand
 *   `import("./" + name)` as a glob over a real folder of the host.
 * Every character is visited a bounded number of times, whatever the input's shape.
 */
import type { Diagnostic } from "./diagnostic.ts";

/** Deepest nesting of brackets accepted in a source file. */
export const MAX_NESTING = 500;

/** Longest run of prefix operators, or of chained assignments, accepted in a source file. */
export const MAX_OPERATOR_RUN = 1_000;

/** Tokens that may prefix an operand, each making the compiler's parser recurse once. */
const PREFIX_OPERATORS = new Set([
  "!",
  "~",
  "+",
  "-",
  "typeof",
  "void",
  "delete",
  "await",
  "new",
  "yield",
]);

/** Keywords after which a `/` starts a regular expression, not a division. */
const REGEX_AFTER_WORD = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
]);

const IDENT = /[A-Za-z0-9_$\u0080-\uffff]/;

/** A problem the scan found; `limit` when it is the nesting bound, not a refused construct. */
export type ScanProblem = Diagnostic & { limit: boolean };

/** The first problem of `source` (a file of the deploy), or null. */
export function scanSource(file: string, source: string): ScanProblem | null {
  let depth = 0;
  let line = 1;
  let lineStart = 0;
  /** The last significant token: a word, a punctuator, or "literal" for strings and numbers. */
  let last = "";
  let lastButOne = "";
  /** Open template literals: the brace depth at which each `${` was entered. */
  const templates: number[] = [];
  const at = (i: number, message: string, limit = false): ScanProblem => ({
    file,
    line,
    column: i - lineStart + 1,
    message,
    limit,
  });
  /** The current run of prefix operators: its length, and the line and column it starts at. */
  let prefixRun = 0;
  let prefixStart: [number, number] = [0, 0];
  /** The current chain of `name =`: its length, and the line and column it starts at. */
  let assignRun = 0;
  let assignStart: [number, number] = [0, 0];
  const runProblem = ([line, column]: [number, number], message: string): ScanProblem => ({
    file,
    line,
    column,
    message,
    limit: true,
  });
  /** Records the token starting at `i`; a problem when it makes a run too long. */
  const push = (token: string, i: number): ScanProblem | null => {
    if (!PREFIX_OPERATORS.has(token)) prefixRun = 0;
    else if (prefixRun++ === 0) prefixStart = [line, i - lineStart + 1];
    if (token === "=") {
      if (lastButOne === "=" && isName(last)) assignRun++;
      else [assignRun, assignStart] = [1, [line, i - lineStart + 1]];
    } else if (!isName(token)) assignRun = 0;
    lastButOne = last;
    last = token;
    if (prefixRun > MAX_OPERATOR_RUN) {
      return runProblem(
        prefixStart,
        `more than ${MAX_OPERATOR_RUN} prefix operators (!, ~, +, -, typeof, void, delete, ` +
          "await, new, yield) in a row here; the compiler refuses longer runs",
      );
    }
    if (assignRun > MAX_OPERATOR_RUN) {
      return runProblem(
        assignStart,
        `more than ${MAX_OPERATOR_RUN} chained assignments (a = b = …) here; the compiler ` +
          "refuses longer chains",
      );
    }
    return null;
  };
  /** Closing-paren positions for `isMethodDefinition`, computed on first need. */
  let closers: Int32Array | null = null;

  let i = 0;
  while (i < source.length) {
    const ch = source.charAt(i);
    if (ch === "\n") {
      line++;
      lineStart = ++i;
      continue;
    }
    if (ch === " " || ch === "\t" || ch === "\r") {
      i++;
      continue;
    }
    if (ch === "/" && source[i + 1] === "/") {
      while (i < source.length && source[i] !== "\n") i++;
      continue;
    }
    if (ch === "/" && source[i + 1] === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end < 0 ? source.length : end + 2;
      for (let j = i; j < stop; j++) {
        if (source[j] === "\n") {
          line++;
          lineStart = j + 1;
        }
      }
      i = stop;
      continue;
    }
    if (ch === '"' || ch === "'") {
      const problem = push("literal", i);
      if (problem) return problem;
      i = skipQuoted(source, i, ch);
      continue;
    }
    if (ch === "`" || (ch === "}" && templates.at(-1) === depth)) {
      // A template literal, or the rest of one after `${ … }`.
      const problem = push("template", i);
      if (problem) return problem;
      if (ch === "}") {
        templates.pop();
        depth--;
      }
      i++;
      while (i < source.length && source[i] !== "`") {
        if (source[i] === "\\") i++;
        else if (source[i] === "\n") {
          line++;
          lineStart = i + 1;
        } else if (source[i] === "$" && source[i + 1] === "{") {
          depth++;
          templates.push(depth);
          i++;
          break;
        }
        i++;
      }
      if (source[i] === "`") i++;
      continue;
    }
    if (ch === "/") {
      const regex = last === "" || (!IDENT.test(last.charAt(0)) && last !== ")" && last !== "]" &&
        last !== "}" && last !== "literal" && last !== "template") ||
        REGEX_AFTER_WORD.has(last);
      if (regex) {
        const problem = push("literal", i);
        if (problem) return problem;
        i = skipRegex(source, i);
        continue;
      }
    }
    if (IDENT.test(ch)) {
      let j = i;
      while (j < source.length && IDENT.test(source.charAt(j))) j++;
      const word = source.slice(i, j);
      const problem = push(/^[0-9]/.test(word) ? "literal" : word, i);
      if (problem) return problem;
      i = j;
      continue;
    }
    if (ch === "(" || ch === "[" || ch === "{") {
      if (++depth > MAX_NESTING) {
        return at(
          i,
          `brackets nest deeper than ${MAX_NESTING} levels here; the compiler refuses deeper code`,
          true,
        );
      }
      if (ch === "(" && (last === "import" || last === "require") && lastButOne !== ".") {
        const problem = callArgument(source, i + 1, () => closers ??= matchingParens(source));
        if (problem) return at(i, `${last}(…) ${problem}`);
      }
    } else if (ch === ")" || ch === "]" || ch === "}") {
      depth = Math.max(0, depth - 1);
    }
    const problem = push(ch, i);
    if (problem) return problem;
    i++;
  }
  return null;
}

/** Whether a pushed token is a name (an identifier or keyword), not a literal or punctuator. */
function isName(token: string): boolean {
  return IDENT.test(token.charAt(0)) && token !== "literal" && token !== "template";
}

/**
 * Why the argument of a call starting at `i` is not one string literal, or null if it is.
 * `closers` gives, for each `(`, the index just past its matching `)`.
 */
function callArgument(source: string, i: number, closers: () => Int32Array): string | null {
  const skipSpace = (k: number) => {
    while (k < source.length && /\s/.test(source.charAt(k))) k++;
    return k;
  };
  let k = skipSpace(i);
  const quote = source[k];
  if (quote !== '"' && quote !== "'" && isMethodDefinition(source, closers()[i - 1]!)) {
    return null;
  }
  if (quote !== '"' && quote !== "'") {
    return 'must name a module by a string literal, like import("./lib.ts"): a computed name ' +
      "could load what the deploy does not contain";
  }
  k = skipSpace(skipQuoted(source, k, quote));
  return source[k] === ")" || source[k] === ","
    ? null
    : "must name a module by one string literal, not an expression";
}

/** Whether the parameter list closed just before `k` is followed by a body: `import(x) { … }`. */
function isMethodDefinition(source: string, k: number): boolean {
  while (k < source.length && /\s/.test(source.charAt(k))) k++;
  return source[k] === "{";
}

/**
 * For each `(` of `source`, the index just past its matching `)`, counting every parenthesis
 * (even in strings and comments), or `source.length` when it never closes: one pass, so that
 * looking past the arguments of nested calls costs nothing per call.
 */
function matchingParens(source: string): Int32Array {
  const closers = new Int32Array(source.length).fill(source.length);
  const open: number[] = [];
  for (let k = 0; k < source.length; k++) {
    const c = source.charCodeAt(k);
    if (c === 0x28) open.push(k);
    else if (c === 0x29) {
      // A `)` with nothing open closes nothing: no call before it is still being looked at.
      const at = open.pop();
      if (at !== undefined) closers[at] = k + 1;
    }
  }
  return closers;
}

function skipQuoted(source: string, i: number, quote: string): number {
  let j = i + 1;
  while (j < source.length && source[j] !== quote && source[j] !== "\n") {
    j += source[j] === "\\" ? 2 : 1;
  }
  return j + 1;
}

function skipRegex(source: string, i: number): number {
  let j = i + 1;
  let inClass = false;
  while (j < source.length && source[j] !== "\n") {
    const c = source[j];
    if (c === "\\") j++;
    else if (c === "[") inClass = true;
    else if (c === "]") inClass = false;
    else if (c === "/" && !inClass) break;
    j++;
  }
  j++;
  while (j < source.length && IDENT.test(source.charAt(j))) j++;
  return j;
}

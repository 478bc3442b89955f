/**
 * A linear pre-check of a deployed source file, run before esbuild sees it: a small lexer that
 * skips strings, template literals, comments and regular expressions, and finds
 * - brackets nested deeper than MAX_NESTING (the compiler's parser recurses on them), and
 * - `import(…)` or `require(…)` whose argument is not one string literal: esbuild would expand
 *   `import("./" + name)` as a glob over a real folder of the host.
 */
import type { Diagnostic } from "./diagnostic.ts";

/** Deepest nesting of brackets accepted in a source file. */
export const MAX_NESTING = 500;

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
  const push = (token: string) => {
    lastButOne = last;
    last = token;
  };

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
      i = skipQuoted(source, i, ch);
      push("literal");
      continue;
    }
    if (ch === "`" || (ch === "}" && templates.at(-1) === depth)) {
      // A template literal, or the rest of one after `${ … }`.
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
      push("template");
      continue;
    }
    if (ch === "/") {
      const regex = last === "" || (!IDENT.test(last.charAt(0)) && last !== ")" && last !== "]" &&
        last !== "}" && last !== "literal" && last !== "template") ||
        REGEX_AFTER_WORD.has(last);
      if (regex) {
        i = skipRegex(source, i);
        push("literal");
        continue;
      }
    }
    if (IDENT.test(ch)) {
      let j = i;
      while (j < source.length && IDENT.test(source.charAt(j))) j++;
      const word = source.slice(i, j);
      push(/^[0-9]/.test(word) ? "literal" : word);
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
        const problem = callArgument(source, i + 1);
        if (problem) return at(i, `${last}(…) ${problem}`);
      }
    } else if (ch === ")" || ch === "]" || ch === "}") {
      depth = Math.max(0, depth - 1);
    }
    push(ch);
    i++;
  }
  return null;
}

/** Why the argument of a call starting at `i` is not one string literal, or null if it is. */
function callArgument(source: string, i: number): string | null {
  const skipSpace = (k: number) => {
    while (k < source.length && /\s/.test(source.charAt(k))) k++;
    return k;
  };
  let k = skipSpace(i);
  const quote = source[k];
  if (quote !== '"' && quote !== "'" && isMethodDefinition(source, i)) return null;
  if (quote !== '"' && quote !== "'") {
    return 'must name a module by a string literal, like import("./lib.ts"): a computed name ' +
      "could load what the deploy does not contain";
  }
  k = skipSpace(skipQuoted(source, k, quote));
  return source[k] === ")" || source[k] === ","
    ? null
    : "must name a module by one string literal, not an expression";
}

/** Whether the parameter list opened before `i` is followed by a body: `import(x) { … }`. */
function isMethodDefinition(source: string, i: number): boolean {
  let depth = 1;
  let k = i;
  for (; k < source.length && depth > 0; k++) {
    if (source[k] === "(") depth++;
    else if (source[k] === ")") depth--;
  }
  while (k < source.length && /\s/.test(source.charAt(k))) k++;
  return source[k] === "{";
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

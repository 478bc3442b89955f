/**
 * Maps stack frames of compiled route modules back to the user's files with the source maps
 * esbuild produced at deploy. The sandbox maps its own stacks as it formats them
 * (`originalPosition`), so the tenant's process pays for it; the host only reads the first frame
 * of a stack already mapped (`firstFrame`). Shared by host and sandbox: imports nothing.
 */

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/** A stack frame line as the sandbox formats it: indentation, then `at `. */
const FRAME_LINE = /^[ \t]{0,16}at /;
const DIGITS = /^\d{1,9}$/;
/** A character that cannot be part of a frame's file name. */
const FILE_END = /[\s()]/;

/** Most characters of a stack searched for its first frame. */
const MAX_SEARCHED_CHARS = 64 * 1024;

/** [generated column, source index, original line, original column], all 0-based. */
type Segment = [number, number, number, number];

/** A parsed source map: per generated line, its segments sorted by column. */
export interface ParsedMap {
  sources: string[];
  lines: Segment[][];
}

function decodeVlq(text: string, start: number, out: number[]): number {
  let i = start;
  while (i < text.length && text[i] !== "," && text[i] !== ";") {
    let value = 0;
    let shift = 0;
    let digit: number;
    do {
      digit = BASE64.indexOf(text.charAt(i++));
      value += (digit & 31) << shift;
      shift += 5;
    } while (digit & 32);
    out.push(value & 1 ? -(value >>> 1) : value >>> 1);
  }
  return i;
}

/** Parses a source map (version 3) into per-line segments. */
export function parseSourceMap(json: string): ParsedMap {
  const map = JSON.parse(json) as { sources: string[]; mappings: string };
  const lines: Segment[][] = [[]];
  let source = 0, line = 0, column = 0;
  let generated = 0;
  for (let i = 0; i < map.mappings.length;) {
    const ch = map.mappings[i];
    if (ch === ";") {
      lines.push([]);
      generated = 0;
      i++;
      continue;
    }
    if (ch === ",") {
      i++;
      continue;
    }
    const fields: number[] = [];
    i = decodeVlq(map.mappings, i, fields);
    const [dGenerated = 0, dSource, dLine, dColumn] = fields;
    generated += dGenerated;
    if (dSource !== undefined && dLine !== undefined && dColumn !== undefined) {
      source += dSource;
      line += dLine;
      column += dColumn;
      lines[lines.length - 1]!.push([generated, source, line, column]);
    }
  }
  return { sources: map.sources.map((s) => s.replace(/^src:/, "")), lines };
}

/**
 * The original file, line and column (1-based) of a generated position (1-based), or null.
 * A binary search over the line's segments, so a long generated line costs its logarithm.
 */
export function originalPosition(
  map: ParsedMap,
  line: number,
  column: number,
): { file: string; line: number; column: number } | null {
  const segments = map.lines[line - 1];
  if (!segments || segments.length === 0) return null;
  let low = 0;
  let high = segments.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (segments[middle]![0] <= column - 1) low = middle;
    else high = middle - 1;
  }
  const best = segments[low]!;
  const file = map.sources[best[1]];
  return file === undefined ? null : { file, line: best[2] + 1, column: best[3] + 1 };
}

/**
 * The file, line and column of the first `at` frame of an already mapped stack, or null. The
 * stack comes from a tenant's sandbox: each line is read once, from its end, by index (a regular
 * expression searching every start of a 64 KB line took seconds of the host's time).
 */
export function firstFrame(stack: string): { file: string; line: number; column: number } | null {
  for (const line of stack.slice(0, MAX_SEARCHED_CHARS).split("\n")) {
    if (!FRAME_LINE.test(line)) continue;
    const frame = frameAtEnd(line);
    if (frame) return frame;
  }
  return null;
}

/** `<file>:<line>:<column>`, optionally closed by `)`, at the end of `line`; or null. */
function frameAtEnd(line: string): { file: string; line: number; column: number } | null {
  const end = line.endsWith(")") ? line.length - 1 : line.length;
  const columnAt = line.lastIndexOf(":", end - 1);
  const lineAt = columnAt > 0 ? line.lastIndexOf(":", columnAt - 1) : -1;
  if (lineAt <= 0) return null;
  const lineText = line.slice(lineAt + 1, columnAt);
  const columnText = line.slice(columnAt + 1, end);
  if (!DIGITS.test(lineText) || !DIGITS.test(columnText)) return null;
  let start = lineAt;
  while (start > 0 && !FILE_END.test(line[start - 1]!)) start--;
  if (start === lineAt) return null;
  return { file: line.slice(start, lineAt), line: Number(lineText), column: Number(columnText) };
}

/**
 * Maps stack frames of compiled route modules back to the user's files with the source maps
 * esbuild produced at deploy. The sandbox maps its own stacks as it formats them
 * (`originalPosition`), so the tenant's process pays for it; `mapStack` rewrites frames written
 * as `bundle:<module>:<line>:<column>` in a text. Shared by host and sandbox: imports nothing.
 */

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/** A stack frame line as the sandbox formats it: indentation, then `at `. */
const FRAME_LINE = /^[ \t]{0,16}at /;
const DIGITS = /^\d{1,9}$/;

/** Most characters of one text searched for frames; the rest is kept as it is. */
const MAX_MAPPED_CHARS = 64 * 1024;
/** Most frame lines rewritten in one text. */
const MAX_MAPPED_FRAMES = 200;

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

/** The original position of a 1-based generated line and column, or null if unmapped. */
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
 * Rewrites `bundle:` frames in `text` with the deployment's source maps (`maps` returns the map
 * of a route file, or null). Linear in the text: only lines shaped like stack frames, only in
 * the first MAX_MAPPED_CHARS characters, at most MAX_MAPPED_FRAMES of them.
 */
export function mapStack(text: string, maps: (file: string) => ParsedMap | null): string {
  if (!text.includes("bundle:")) return text;
  const head = text.length > MAX_MAPPED_CHARS ? text.slice(0, MAX_MAPPED_CHARS) : text;
  const lines = head.split("\n");
  let frames = 0;
  for (let i = 0; i < lines.length && frames < MAX_MAPPED_FRAMES; i++) {
    const line = lines[i]!;
    if (!FRAME_LINE.test(line)) continue;
    const at = line.indexOf("bundle:");
    if (at < 0) continue;
    frames++;
    lines[i] = rewriteFrame(line, at, maps);
  }
  return lines.join("\n") + text.slice(head.length);
}

/** `… bundle:<file>:<line>:<column>` (closed by `)` or the end of the line), mapped. */
function rewriteFrame(line: string, at: number, maps: (file: string) => ParsedMap | null): string {
  const close = line.indexOf(")", at);
  const end = close < 0 ? line.length : close;
  const location = line.slice(at + "bundle:".length, end);
  const columnAt = location.lastIndexOf(":");
  const lineAt = location.lastIndexOf(":", columnAt - 1);
  if (lineAt <= 0) return line;
  const [file, lineText, columnText] = [
    location.slice(0, lineAt),
    location.slice(lineAt + 1, columnAt),
    location.slice(columnAt + 1),
  ];
  if (!DIGITS.test(lineText) || !DIGITS.test(columnText)) return line;
  const map = maps(file);
  const position = map && originalPosition(map, Number(lineText), Number(columnText));
  if (!position) return line;
  return `${line.slice(0, at)}${position.file}:${position.line}:${position.column}${
    line.slice(end)
  }`;
}

/** The file, line and column of the first `at` frame of an already mapped stack, or null. */
export function firstFrame(stack: string): { file: string; line: number; column: number } | null {
  for (const line of stack.slice(0, MAX_MAPPED_CHARS).split("\n")) {
    if (!FRAME_LINE.test(line)) continue;
    const match = line.match(/\(?([^\s()]+):(\d{1,9}):(\d{1,9})\)?$/);
    if (match) return { file: match[1]!, line: Number(match[2]), column: Number(match[3]) };
  }
  return null;
}

/**
 * Maps stack frames of compiled route modules back to the user's files. The worker writes
 * frames of a route bundle as `bundle:<route file>:<line>:<column>`; this rewrites each to
 * `<original file>:<line>:<column>` with the source map esbuild produced at deploy.
 */

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const FRAME = /bundle:(.+?):(\d+):(\d+)/g;

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
      digit = BASE64.indexOf(text[i++]);
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
    generated += fields[0];
    if (fields.length >= 4) {
      source += fields[1];
      line += fields[2];
      column += fields[3];
      lines[lines.length - 1].push([generated, source, line, column]);
    }
  }
  return { sources: map.sources.map((s) => s.replace(/^src:/, "")), lines };
}

/** The original position of a 1-based generated line and column, or null if unmapped. */
export function originalPosition(
  map: ParsedMap,
  line: number,
  column: number,
): { file: string; line: number; column: number } | null {
  const segments = map.lines[line - 1];
  if (!segments || segments.length === 0) return null;
  let best = segments[0];
  for (const segment of segments) {
    if (segment[0] <= column - 1) best = segment;
    else break;
  }
  return { file: map.sources[best[1]], line: best[2] + 1, column: best[3] + 1 };
}

/** Rewrites `bundle:` frames in `text` with the deployment's source maps (route file → map JSON). */
export function mapStack(text: string, maps: (file: string) => ParsedMap | null): string {
  if (!text.includes("bundle:")) return text;
  return text.replace(FRAME, (whole, file: string, line: string, column: string) => {
    const map = maps(file);
    const position = map && originalPosition(map, Number(line), Number(column));
    return position ? `${position.file}:${position.line}:${position.column}` : whole;
  });
}

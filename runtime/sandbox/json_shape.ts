/**
 * The shape of a JSON text, checked before it is parsed: `JSON.parse` costs about a hundred
 * times more per byte for arrays and objects than for flat text (a 16 MB `[[[[…` froze the host
 * for 3.6 s; 16 MB of `[[]],[[]],…`, only 3 deep, for 1.4 s), so texts from tenants and clients
 * are refused past a depth, a count of arrays and objects, and a count of keys that no honest one
 * reaches. One pass over the bytes, about a quarter of what parsing them costs.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/** What a JSON text may hold. */
export interface JsonShapeLimits {
  /** How deeply arrays and objects may nest. */
  depth: number;
  /** How many arrays and objects it may hold in all. */
  containers: number;
  /** How many object keys it may hold in all. */
  keys: number;
}

/**
 * Which limit the JSON text in `bytes` (UTF-8) goes past, in words for an error message
 * ("nests more than 32 levels deep"), or null when it keeps within all of them. Text that is not
 * JSON is left to the parser.
 */
export function jsonShapeProblem(bytes: Uint8Array, limits: JsonShapeLimits): string | null {
  let depth = 0;
  let containers = 0;
  let keys = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
      if (++depth > limits.depth) return `nests more than ${limits.depth} levels deep`;
      if (++containers > limits.containers) {
        return `holds more than ${limits.containers} arrays and objects`;
      }
    } else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) depth--;
    else if (byte === COLON && ++keys > limits.keys) {
      return `holds more than ${limits.keys} object keys`;
    }
  }
  return null;
}

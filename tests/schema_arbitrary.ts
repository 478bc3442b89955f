/**
 * fast-check arbitraries from the JSON Schemas of the OpenAPI document: `valid(schema)` makes
 * values the schema accepts, `nearMiss(schema)` values that are almost right (a valid object
 * with one field wrong, missing or added under a prototype-shaped name, a wrong type, an
 * out-of-range number, a string just past its bounds). Covers the subset of JSON Schema the
 * document uses (zod's output): type, enum, const, pattern, lengths, bounds, properties,
 * required, additionalProperties, items, anyOf and $ref into components.
 */
import fc from "fast-check";

type Schema = Record<string, unknown>;
type Resolve = (ref: string) => Schema;

/** Names that are properties of every object's prototype: each must be an ordinary name. */
export const PROTOTYPE_NAMES = ["constructor", "__proto__", "toString", "hasOwnProperty"];

/** Any JSON value, small. */
export const anyJson: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 2 });

/** A resolver of `#/components/schemas/X` refs in `document`. */
export function resolver(document: Schema): Resolve {
  return (ref) => {
    let node: unknown = document;
    for (const part of ref.replace(/^#\//, "").split("/")) {
      node = (node as Record<string, unknown>)[part.replaceAll("~1", "/").replaceAll("~0", "~")];
    }
    return node as Schema;
  };
}

/**
 * Strings `pattern` matches. fast-check cannot generate from lookaheads, so those are dropped
 * from the pattern it generates from, and its strings are kept only when the real one matches.
 */
function matching(pattern: RegExp): fc.Arbitrary<string> {
  try {
    return fc.stringMatching(pattern);
  } catch {
    const looser = new RegExp(pattern.source.replace(/\(\?[=!][^)]*\)/g, ""));
    return fc.stringMatching(looser).filter((s) => pattern.test(s));
  }
}

/** A string the schema's pattern or lengths allow. */
function validString(schema: Schema): fc.Arbitrary<string> {
  if (schema.format === "date-time") {
    return fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true })
      .map((date) => date.toISOString());
  }
  if (typeof schema.pattern === "string") return matching(new RegExp(schema.pattern));
  const minLength = typeof schema.minLength === "number" ? schema.minLength : 0;
  const maxLength = Math.min(typeof schema.maxLength === "number" ? schema.maxLength : 40, 40);
  return fc.oneof(
    fc.string({ minLength, maxLength }),
    fc.string({ minLength, maxLength, unit: "binary" }),
    fc.constantFrom(...PROTOTYPE_NAMES),
  ).filter((s) => s.length >= minLength);
}

function validNumber(schema: Schema, integer: boolean): fc.Arbitrary<number> {
  const min = (schema.minimum ?? schema.exclusiveMinimum) as number | undefined;
  const max = (schema.maximum ?? schema.exclusiveMaximum) as number | undefined;
  const above = (n: number) =>
    (schema.exclusiveMinimum === undefined || n > (schema.exclusiveMinimum as number)) &&
    (schema.exclusiveMaximum === undefined || n < (schema.exclusiveMaximum as number));
  if (integer) {
    return fc.integer({ min: min ?? -1_000_000, max: max ?? 1_000_000 }).filter(above);
  }
  return fc.double({ min: min ?? -1e6, max: max ?? 1e6, noNaN: true, noDefaultInfinity: true })
    .filter(above);
}

/** Values `schema` accepts; its `examples` among them. */
export function valid(schema: Schema, resolve: Resolve, depth = 0): fc.Arbitrary<unknown> {
  if (typeof schema.$ref === "string") return valid(resolve(schema.$ref), resolve, depth);
  if (Array.isArray(schema.examples) && schema.examples.length > 0) {
    const { examples, ...rest } = schema;
    return fc.oneof(fc.constantFrom(...examples), valid(rest, resolve, depth));
  }
  if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum);
  if ("const" in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.anyOf)) {
    return fc.oneof(...(schema.anyOf as Schema[]).map((s) => valid(s, resolve, depth)));
  }
  switch (schema.type) {
    case "string":
      return validString(schema);
    case "integer":
      return validNumber(schema, true);
    case "number":
      return validNumber(schema, false);
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array":
      return fc.array(valid((schema.items ?? {}) as Schema, resolve, depth + 1), {
        maxLength: 3,
      });
    case "object":
      return validObject(schema, resolve, depth);
    default:
      return anyJson;
  }
}

function validObject(schema: Schema, resolve: Resolve, depth: number): fc.Arbitrary<unknown> {
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  const required = (schema.required ?? []) as string[];
  const fields = fc.record(
    Object.fromEntries(
      Object.entries(properties).map(([name, s]) => [name, valid(s, resolve, depth + 1)]),
    ),
    { requiredKeys: required },
  );
  const extra = schema.additionalProperties;
  if (typeof extra !== "object" || extra === null || depth > 2) return fields;
  const entries = fc.array(
    fc.tuple(
      fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom(...PROTOTYPE_NAMES)),
      valid(extra as Schema, resolve, depth + 1),
    ),
    { maxLength: 4 },
  );
  return fc.tuple(fields, entries).map(([known, more]) => withEntries(known, more));
}

/** `base` plus `entries` as own properties, `__proto__` included (never as the prototype). */
function withEntries(base: unknown, entries: Array<[string, unknown]>): unknown {
  const out = { ...(base as Record<string, unknown>) };
  for (const [name, value] of entries) {
    Object.defineProperty(out, name, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** Values that are almost what `schema` accepts. */
export function nearMiss(schema: Schema, resolve: Resolve): fc.Arbitrary<unknown> {
  if (typeof schema.$ref === "string") return nearMiss(resolve(schema.$ref), resolve);
  const wrong = fc.oneof(anyJson, fc.constantFrom(null, "", [], {}, -1, 0, 1e308, "x".repeat(600)));
  if (schema.type !== "object") return wrong;
  const shapes = (schema.properties ?? {}) as Record<string, Schema>;
  const properties = Object.keys(shapes);
  const base = valid(schema, resolve) as fc.Arbitrary<Record<string, unknown>>;
  const field = properties.length > 0 ? fc.constantFrom(...properties) : fc.constant("x");
  // Fields that are maps of names (source_files, functions): their names are the risky part.
  const maps = properties.filter((name) => typeof shapes[name]?.additionalProperties === "object");
  const mapField = maps.length > 0 ? fc.constantFrom(...maps) : field;
  return fc.oneof(
    { arbitrary: wrong, weight: 1 },
    // A map field holding every prototype-shaped name, each with null or a value of any shape.
    {
      arbitrary: fc.tuple(
        base,
        mapField,
        fc.tuple(...PROTOTYPE_NAMES.map(() => fc.oneof(fc.constant(null), anyJson))),
      ).map(([value, name, bad]) =>
        withEntries(value, [[
          name,
          withEntries({}, PROTOTYPE_NAMES.map((key, i) => [key, bad[i]] as [string, unknown])),
        ]])
      ),
      weight: maps.length > 0 ? 3 : 0,
    },
    // One field replaced with a value of any shape.
    {
      arbitrary: fc.tuple(base, field, anyJson).map(([value, name, bad]) =>
        withEntries(value, [[name, bad]])
      ),
      weight: 1,
    },
    // One field left out.
    {
      arbitrary: fc.tuple(base, field).map(([value, name]) => {
        const out = { ...value };
        delete out[name];
        return out;
      }),
      weight: 1,
    },
    // A prototype-shaped name added, at the top or inside a nested object.
    {
      arbitrary: fc.tuple(base, fc.constantFrom(...PROTOTYPE_NAMES), anyJson, field).map(
        ([value, name, bad, inside]) => {
          const nested = value[inside];
          return nested !== null && typeof nested === "object" && !Array.isArray(nested)
            ? withEntries(value, [[inside, withEntries(nested, [[name, bad]])]])
            : withEntries(value, [[name, bad]]);
        },
      ),
      weight: 1,
    },
  );
}

/** A path or query value that is likely wrong for any rule: odd text, numbers, escapes. */
export const oddParameter: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ maxLength: 10, unit: "binary" }),
  fc.constantFrom(...PROTOTYPE_NAMES, "", "0", "-1", "1.5", "%zz", "%", "..", "9".repeat(30)),
);

/** A path or query value: valid for `schema`, or a near miss of it, as text. */
export function parameter(schema: Schema, resolve: Resolve): fc.Arbitrary<string> {
  const good = valid(schema, resolve).map((value) => String(value));
  return fc.oneof({ arbitrary: good, weight: 3 }, { arbitrary: oddParameter, weight: 1 });
}

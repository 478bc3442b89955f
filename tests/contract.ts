/**
 * The API contract, checked in the test suite: every `/v1` response a test receives through the
 * helpers (tests/helpers.ts) is held against `/v1/openapi.json`. Its status must be documented
 * for its route, its content type must be a documented one, a JSON body must match the
 * documented schema, and each event of a server-sent stream must be one of the route's
 * `x-events` with matching `data`. A mismatch throws a ContractError naming the route, the
 * status and the field, so the document cannot drift from the server.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

/** A response that the OpenAPI document does not describe. */
export class ContractError extends Error {
  override name = "ContractError";
}

type Json = Record<string, unknown>;

/** A documented response: its content by media type. */
interface DocumentedResponse {
  content?: Record<string, { schema?: Json; "x-events"?: Record<string, { schema: Json }> }>;
}

/** One operation of the document, with a matcher for its path. */
interface Operation {
  method: string;
  /** `GET /v1/apps/{appId}/kv/{key}`, as error messages name it. */
  name: string;
  pattern: RegExp;
  params: number;
  responses: Record<string, DocumentedResponse>;
}

/** Where the document's own schemas are found by the compiled validators. */
const DOCUMENT_ID = "openapi.json";

// ajv-formats ships CommonJS: its default export is the function, or wraps it.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv2020) => void;

/** Checks responses against one OpenAPI document. */
export class Contract {
  readonly #ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: true });
  readonly #operations: Operation[];
  readonly #validators = new Map<string, ValidateFunction>();

  constructor(document: Json) {
    addFormats(this.#ajv);
    const components = (document.components ?? {}) as Json;
    this.#ajv.addSchema({ $id: DOCUMENT_ID, components: { schemas: components.schemas ?? {} } });
    const paths = (document.paths ?? {}) as Record<string, Record<string, Json>>;
    this.#operations = Object.entries(paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({
        method: method.toUpperCase(),
        name: `${method.toUpperCase()} ${path}`,
        pattern: new RegExp(
          `^${path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{\w+\}/g, "[^/]+")}$`,
        ),
        params: (path.match(/\{/g) ?? []).length,
        responses: (operation.responses ?? {}) as Record<string, DocumentedResponse>,
      }))
    ).sort((a, b) => a.params - b.params);
  }

  /** The documented operation `method` and `pathname` reach, if any. */
  operation(method: string, pathname: string): Operation | undefined {
    return this.#operations.find((op) => op.method === method && op.pattern.test(pathname));
  }

  /**
   * Checks `response` to `method` `url` and answers it, unread (an event stream is answered as
   * a stream that errors with a ContractError at the first undocumented event). A request
   * outside the document (another path, an unrouted method) passes unchecked.
   */
  async check(method: string, url: string, response: Response): Promise<Response> {
    const operation = this.operation(method, new URL(url).pathname);
    if (!operation || method === "HEAD") return response;
    const where = `${operation.name} answered ${response.status}`;
    const documented = operation.responses[String(response.status)];
    if (!documented) {
      const body = (await response.clone().text()).slice(0, 300);
      throw new ContractError(
        `${where}, a status the document does not list for it ` +
          `(it lists ${Object.keys(operation.responses).join(", ")}): ${body}`,
      );
    }
    const content = documented.content ?? {};
    const type = (response.headers.get("content-type") ?? "").split(";")[0]!.trim();
    if (Object.keys(content).length === 0) {
      const body = await response.clone().text();
      if (body.length > 0) {
        throw new ContractError(`${where} with a body, where the document has none: ${body}`);
      }
      return response;
    }
    const media = content[type];
    if (!media) {
      throw new ContractError(
        `${where} with content type "${type}", where the document has ` +
          Object.keys(content).map((t) => `"${t}"`).join(", "),
      );
    }
    if (media["x-events"]) return this.#events(where, response, media["x-events"]);
    if (type !== "application/json") return response;
    const text = await response.clone().text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new ContractError(`${where} with a body that is not JSON: ${text.slice(0, 300)}`);
    }
    this.#validate(`${operation.name} ${response.status}`, media.schema ?? {}, body, where);
    return response;
  }

  #validate(key: string, schema: Json, value: unknown, where: string): void {
    let validate = this.#validators.get(key);
    if (!validate) {
      const text = JSON.stringify(schema).replaceAll(
        '"#/components/',
        `"${DOCUMENT_ID}#/components/`,
      );
      validate = this.#ajv.compile(JSON.parse(text));
      this.#validators.set(key, validate);
    }
    if (!validate(value)) {
      throw new ContractError(`${where}: ${describe(validate.errors?.[0], value)}`);
    }
  }

  /** `response` with its event stream checked event by event as the reader takes it. */
  #events(
    where: string,
    response: Response,
    events: Record<string, { schema: Json }>,
  ): Response {
    if (!response.body) return response;
    const decoder = new TextDecoder();
    let pending = "";
    const checkEvent = (block: string) => {
      let name = "message";
      const data: string[] = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith(":") || line === "") continue;
        const [field = "", ...rest] = line.split(":");
        const value = rest.join(":").replace(/^ /, "");
        if (field === "event") name = value;
        else if (field === "data") data.push(value);
      }
      if (data.length === 0) return;
      const event = events[name];
      if (!event) {
        throw new ContractError(
          `${where} with a "${name}" event, which its x-events do not list ` +
            `(they list ${Object.keys(events).join(", ")})`,
        );
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(data.join("\n"));
      } catch {
        throw new ContractError(`${where}: the data of a "${name}" event is not JSON`);
      }
      this.#validate(`${where} event ${name}`, event.schema, parsed, `${where}, event "${name}"`);
    };
    const checked = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          pending += decoder.decode(chunk, { stream: true });
          const blocks = pending.split(/\r?\n\r?\n/);
          pending = blocks.pop() ?? "";
          try {
            for (const block of blocks) checkEvent(block);
          } catch (error) {
            controller.error(error);
            return;
          }
          controller.enqueue(chunk);
        },
      }),
    );
    return new Response(checked, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  }
}

/** The first failed rule of `value`, with the field it is about. */
function describe(error: ErrorObject | undefined, value: unknown): string {
  if (!error) return "the body does not match its schema";
  const field = error.instancePath === "" ? "the body" : `field ${error.instancePath}`;
  const extra = error.keyword === "additionalProperties"
    ? ` ("${String((error.params as { additionalProperty: string }).additionalProperty)}")`
    : "";
  const actual = JSON.stringify(pointer(value, error.instancePath))?.slice(0, 200);
  return `${field} ${error.message ?? "is wrong"}${extra}, got ${actual}`;
}

function pointer(value: unknown, path: string): unknown {
  let node = value;
  for (const part of path.split("/").slice(1)) {
    const key = part.replaceAll("~1", "/").replaceAll("~0", "~");
    node = node !== null && typeof node === "object"
      ? (node as Record<string, unknown>)[key]
      : undefined;
  }
  return node;
}

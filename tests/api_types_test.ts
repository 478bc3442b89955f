/**
 * The CLI's client is typed from cli/api_types.ts, generated from the OpenAPI document: the
 * types rendered from the live document must be the committed ones, so a change to a route's
 * schema regenerates them (`deno run -A cli/api_types_gen.ts`), and `deno task check` then fails
 * on any CLI command that reads a field the change renamed or removed.
 */
import { renderTypes } from "../cli/api_types_gen.ts";
import { json, serverTest } from "./helpers.ts";

serverTest("cli/api_types.ts is what the live /v1/openapi.json renders to", async (s) => {
  const live = await renderTypes(await json(await s.request("/v1/openapi.json"), 200));
  const committed = await Deno.readTextFile(new URL("../cli/api_types.ts", import.meta.url));
  if (live === committed) return;
  const a = committed.split("\n");
  const b = live.split("\n");
  let line = 0;
  while (line < Math.max(a.length, b.length) && a[line] === b[line]) line++;
  const around = (lines: string[]) => lines.slice(Math.max(0, line - 3), line + 4).join("\n");
  throw new Error(
    `cli/api_types.ts differs from the live document's types at line ${line + 1}:\n` +
      `--- committed\n${around(a)}\n+++ live\n${around(b)}\n` +
      "regenerate it with `deno run -A cli/api_types_gen.ts`, then `deno task check`",
  );
});

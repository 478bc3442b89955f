/**
 * `fn init [dir]`: a new functions project, type-checked against the platform's handler types,
 * with `deno task dev` / `deno task deploy` (they run `fn`, installed globally: README) and a
 * `.gitignore` that keeps the local stores and their keys (`.fn/`) and `.env` out of git.
 */
import { APP_ID } from "../runtime/ids.ts";
import { CliError } from "./client.ts";

const TYPES = new URL("../runtime/sandbox/ctx.ts", import.meta.url);

const FILES: Record<string, string> = {
  "api/hello.ts": `import type { Handler } from "../fn.d.ts";
import { greeting } from "../lib/greeting.ts";

const hello: Handler = (ctx) => {
  const who = typeof ctx.req.query.who === "string" ? ctx.req.query.who : "there";
  return { body: { message: greeting(who) } };
};
export default hello;
`,
  "api/users/[id].ts": `import type { Handler } from "../../fn.d.ts";
import { greeting } from "../../lib/greeting.ts";

const user: Handler = async (ctx) => {
  const visits = await ctx.kv.incr(\`visits:\${ctx.req.params.id}\`);
  console.log("user", ctx.req.params.id, "visit", visits);
  return { body: { id: ctx.req.params.id, greeting: greeting(ctx.req.params.id), visits } };
};
export default user;
`,
  "lib/greeting.ts": `/** A greeting for \`who\`. */
export function greeting(who: string): string {
  return \`Hello, \${who}!\`;
}
`,
  ".fnignore": `# Files fn deploy never sends (one pattern a line; * matches within a name).
.fn
*.test.ts
README.md
`,
  ".gitignore": `# fn dev's local stores, with their keys (admin.key, secrets.key)
.fn/
# local variables (fn dev loads .env)
.env
`,
};

/** The app id `fn deploy` uses for a project in `dir`: its folder's name, if that is a valid id. */
function appIdFor(dir: string): string {
  const name = (dir.replace(/\/+$/, "").split("/").pop() ?? "").toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-").replace(/-+/g, "-").replace(/^-|-$/g, "");
  return APP_ID.test(name) ? name : "my-app";
}

/** The project's deno.json: its tasks run the installed `fn`; the handler types check strictly. */
function denoJson(app: string): string {
  return `{
  "tasks": {
    "dev": "fn dev",
    "deploy": "fn deploy --app ${app}"
  },
  "compilerOptions": { "strict": true, "lib": ["deno.worker"] },
  "exclude": [".fn/"]
}
`;
}

/** Writes the scaffold into `dir` (created if missing); refuses to overwrite a file. */
export async function init(dir: string): Promise<string[]> {
  const files = {
    ...FILES,
    "deno.json": denoJson(appIdFor(dir)),
    "fn.d.ts": await Deno.readTextFile(TYPES),
  };
  for (const path of Object.keys(files)) {
    try {
      await Deno.stat(`${dir}/${path}`);
      throw new CliError(`${dir}/${path} already exists; fn init writes only new projects`);
    } catch (error) {
      if (error instanceof CliError) throw error;
    }
  }
  for (const [path, text] of Object.entries(files)) {
    const full = `${dir}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, text);
  }
  return Object.keys(files);
}

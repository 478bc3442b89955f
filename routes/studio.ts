/**
 * The Studio, the platform's web UI, at `/studio`: an HTML shell, one stylesheet and one script
 * bundled from `studio/main.ts` with esbuild at first request (no CDN, no fonts), served with a
 * strict Content-Security-Policy and never framable. Every action goes through `/v1` with the
 * key the user signed in with, kept in sessionStorage.
 */
import * as esbuild from "esbuild";
import { Hono } from "hono";

const STUDIO = new URL("../studio/", import.meta.url);

/** Headers every Studio response carries. */
const SAFE_HEADERS = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; " +
    "frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

const SHELL = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Studio · server functions</title>
<link rel="stylesheet" href="/studio/style.css">
<script type="module" src="/studio/main.js"></script>
</head>
<body>
<header><a href="#/apps"><strong>Studio</strong></a><a href="#/apps">Apps</a><span class="grow"></span><button id="sign-out" type="button">Sign out</button></header>
<main id="root"></main>
</body>
</html>`;

async function bundle(): Promise<string> {
  const result = await esbuild.build({
    entryPoints: [new URL("main.ts", STUDIO).pathname],
    bundle: true,
    write: false,
    format: "esm",
    target: "es2022",
    minify: true,
    logLevel: "silent",
  });
  return result.outputFiles[0]!.text;
}

/** The Studio router; mount at the root. */
export function studioRoutes(): Hono {
  let script: Promise<string> | undefined;
  let style: Promise<string> | undefined;
  return new Hono()
    .get("/studio", (c) => c.html(SHELL, 200, SAFE_HEADERS))
    .get("/studio/", (c) => c.redirect("/studio"))
    .get("/studio/main.js", async (c) => {
      script ??= bundle();
      return c.body(await script, 200, {
        ...SAFE_HEADERS,
        "content-type": "text/javascript; charset=utf-8",
      });
    })
    .get("/studio/style.css", async (c) => {
      style ??= Deno.readTextFile(new URL("style.css", STUDIO));
      return c.body(await style, 200, {
        ...SAFE_HEADERS,
        "content-type": "text/css; charset=utf-8",
      });
    });
}

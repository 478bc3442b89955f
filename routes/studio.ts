/**
 * The Studio, the platform's web UI, at `/studio` on the platform's host only (routes/hosts.ts):
 * one HTML page with its stylesheet and its script (bundled from `studio/main.ts` with esbuild
 * at first request; no CDN, no fonts) inline, each allowed by its SHA-256 in the
 * Content-Security-Policy. Nothing else on the origin, not even a function response on the shared
 * `/apps/<app>/functions` form, can run as the Studio's script or style. Never framable, and
 * isolated from the windows that open it or that it opens. Every action goes through `/v1` with
 * the key the user signed in with, kept in sessionStorage.
 */
import * as esbuild from "esbuild";
import { Hono } from "hono";
import { encodeBase64 } from "../runtime/base64.ts";

const STUDIO = new URL("../studio/", import.meta.url);

/** The page, built once: its HTML and the headers it is served with. */
interface StudioPage {
  html: string;
  headers: Record<string, string>;
}

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

/**
 * Text safe inside an inline `<script>` or `<style>` element: no sequence that would end the
 * element or switch the HTML tokenizer's state. In script both rewrites only occur inside string
 * or regular-expression literals, where `\/` and `\!` mean `/` and `!`.
 */
function inlineSafe(text: string): string {
  return text.replaceAll("</", "<\\/").replaceAll("<!--", "<\\!--");
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return `'sha256-${encodeBase64(new Uint8Array(digest))}'`;
}

async function buildPage(): Promise<StudioPage> {
  const [script, style] = await Promise.all([
    bundle().then(inlineSafe),
    Deno.readTextFile(new URL("style.css", STUDIO)).then(inlineSafe),
  ]);
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Studio · server functions</title>
<style>${style}</style>
<script type="module">${script}</script>
</head>
<body>
<header><a href="#/apps"><strong>Studio</strong></a><a href="#/apps">Apps</a><span class="grow"></span><button id="sign-out" type="button">Sign out</button></header>
<main id="root"></main>
</body>
</html>`;
  const csp = `default-src 'none'; script-src ${await sha256(script)}; ` +
    `style-src ${await sha256(style)}; img-src data:; connect-src 'self'; form-action 'none'; ` +
    "base-uri 'none'; frame-ancestors 'none'";
  return {
    html,
    headers: {
      "content-security-policy": csp,
      "x-frame-options": "DENY",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      // A window that opens the Studio (or that it opens) gets no handle on it.
      "cross-origin-opener-policy": "same-origin",
      "cross-origin-resource-policy": "same-origin",
      "cache-control": "no-store",
    },
  };
}

/** The Studio router; mount at the root, behind the platform-host check. */
export function studioRoutes(): Hono {
  let page: Promise<StudioPage> | undefined;
  return new Hono()
    .get("/studio", async (c) => {
      if (!page) {
        page = buildPage();
        // A failed build is tried again on the next request, not cached.
        page.catch(() => page = undefined);
      }
      const { html, headers } = await page;
      return c.html(html, 200, headers);
    })
    .get("/studio/", (c) => c.redirect("/studio"));
}

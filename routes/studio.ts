/**
 * The Studio, the platform's web UI, at `/studio` on the platform's host only (routes/hosts.ts):
 * one HTML page with its stylesheet and its script inline, each allowed by its SHA-256 in the
 * Content-Security-Policy (no CDN, no fonts). Nothing else on the origin, not even a function
 * response on the shared `/apps/<app>/functions` form, can run as the Studio's script or style.
 * Never framable, and isolated from the windows that open it or that it opens. Every action goes
 * through `/v1` with the key the user signed in with, kept in sessionStorage.
 *
 * The script and stylesheet are bundled from `studio/main.ts` at first request by `deno bundle`
 * (Deno's esbuild), which resolves the npm packages the Studio imports (Preact, htm, uPlot,
 * pinned in deno.json) from Deno's cache: there is no node_modules. The container image caches
 * them at build time.
 */
import { Hono } from "hono";
import { encodeBase64 } from "../runtime/base64.ts";

const STUDIO = new URL("../studio/", import.meta.url);
const CONFIG = new URL("../deno.json", import.meta.url);

/** What the Studio page needs to know of the platform. */
export interface StudioOptions {
  /** Apps answer at `<app>.<baseDomain>` (and `<app>--<env>.<baseDomain>`): shown as URLs. */
  baseDomain: string;
}

/** The page, built once: its HTML and the headers it is served with. */
interface StudioPage {
  html: string;
  headers: Record<string, string>;
}

/** The bundled script and stylesheet (the Studio's own and uPlot's), built by `deno bundle`. */
async function bundle(): Promise<{ script: string; style: string }> {
  const outdir = await Deno.makeTempDir({ prefix: "fn-studio-" });
  try {
    const { success, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform=browser",
        "--minify",
        `--config=${CONFIG.pathname}`,
        `--outdir=${outdir}`,
        new URL("main.ts", STUDIO).pathname,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!success) {
      throw new Error(
        `the Studio did not build: ${new TextDecoder().decode(stderr).slice(0, 4000)}`,
      );
    }
    const [script, style] = await Promise.all([
      Deno.readTextFile(`${outdir}/main.js`),
      Deno.readTextFile(`${outdir}/main.css`),
    ]);
    return { script, style };
  } finally {
    await Deno.remove(outdir, { recursive: true });
  }
}

/** `text` safe inside a double-quoted HTML attribute. */
function attribute(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("<", "&lt;");
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

async function buildPage(options: StudioOptions): Promise<StudioPage> {
  const built = await bundle();
  const script = inlineSafe(built.script), style = inlineSafe(built.style);
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="fn-base-domain" content="${attribute(options.baseDomain)}">
<title>Studio · server functions</title>
<style>${style}</style>
<script type="module">${script}</script>
</head>
<body>
<div id="root"></div>
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

/**
 * The Studio router; mount at the root, behind the platform-host check. `GET /` on the
 * platform's host leads to the Studio.
 */
export function studioRoutes(options: StudioOptions): Hono {
  let page: Promise<StudioPage> | undefined;
  return new Hono()
    .get("/studio", async (c) => {
      if (!page) {
        page = buildPage(options);
        // A failed build is tried again on the next request, not cached.
        page.catch(() => page = undefined);
      }
      const { html, headers } = await page;
      return c.html(html, 200, headers);
    })
    .get("/studio/", (c) => c.redirect("/studio"))
    .get("/", (c) => c.redirect("/studio"));
}

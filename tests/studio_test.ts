/**
 * The Studio in a real browser: Debian's Chromium driven by playwright-core against a real
 * server. Screenshots of every page go to tests/output/ (ignored by git).
 */
import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";
import { API_KEY, appId, json, startServer, type TestServer, waitFor } from "./helpers.ts";

const OUTPUT = new URL("./output/", import.meta.url).pathname;

function chromiumPath(): string | null {
  for (const path of ["/usr/bin/chromium", "/usr/bin/chromium-browser"]) {
    try {
      Deno.statSync(path);
      return path;
    } catch { /* not there */ }
  }
  return null;
}

async function withStudio(fn: (s: TestServer, browser: Browser) => Promise<void>): Promise<void> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error("chromium is not installed (apt-get install chromium)");
  await Deno.mkdir(OUTPUT, { recursive: true });
  const s = await startServer();
  const browser = await chromium.launch({
    executablePath,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    await fn(s, browser);
  } finally {
    await browser.close();
    await s.close();
  }
}

async function signIn(page: Page, s: TestServer, key = API_KEY): Promise<void> {
  await page.goto(`${s.url}/studio`);
  await page.fill("#key", key);
  await page.click("#sign-in button[type=submit]");
}

const COUNTER_APP = {
  "api/hello.ts":
    `export default (ctx) => { console.log("hello from", ctx.req.query.who); return { body: { hi: ctx.req.query.who ?? "there", v: 1 } }; };`,
  "api/read.ts":
    `export default async (ctx) => ({ body: { value: await ctx.kv.get("greeting") } });`,
};

Deno.test({
  name:
    "the Studio, in Chromium: sign in, apps, try-it with logs, live tail, KV, rollback, scoping",
  async fn() {
    await withStudio(async (s, browser) => {
      const page = await browser.newPage();
      // A wrong key gets a clear message; the page is served with a strict CSP.
      const shell = await page.goto(`${s.url}/studio`);
      assert.match(shell!.headers()["content-security-policy"] ?? "", /default-src 'none'/);
      assert.equal(shell!.headers()["x-frame-options"], "DENY");
      await signIn(page, s, "not-a-key");
      await page.waitForSelector("#sign-in-error:has-text('That key was refused')");
      await page.screenshot({ path: `${OUTPUT}sign-in.png` });

      // Deploy through the API, then see the app and its routes.
      const app = appId("studio");
      const first = await s.deployOk(app, COUNTER_APP, { message: "first" });
      await s.deployOk(app, {
        ...COUNTER_APP,
        "api/hello.ts": COUNTER_APP["api/hello.ts"].replace("v: 1", "v: 2"),
      }, { message: "second" });
      await signIn(page, s);
      await page.waitForSelector(`#apps tr[data-app="${app}"]`);
      await page.screenshot({ path: `${OUTPUT}apps.png` });
      await page.click(`#apps tr[data-app="${app}"] a`);
      await page.waitForSelector(`.try-it[data-route="/functions/hello"]`);

      // Try-it: the function's answer and its log line.
      const tryIt = page.locator(`.try-it[data-route="/functions/hello"]`);
      await tryIt.locator("input[name=query]").fill("who=ada");
      await tryIt.locator("button:has-text('Send')").click();
      await tryIt.locator('.response-body:has-text(\'"hi":"ada"\')').waitFor();
      await tryIt.locator(".log:has-text('hello from ada')").waitFor();
      await page.screenshot({ path: `${OUTPUT}functions.png`, fullPage: true });

      // The live tail shows a new line within 2 s of the request.
      await page.goto(`${s.url}/studio#/apps/${app}/logs`);
      await page.waitForSelector("#live-tail");
      await new Promise((resolve) => setTimeout(resolve, 500));
      const sent = performance.now();
      await (await s.call(app, "/hello?who=tail")).body?.cancel();
      await page.locator("#live-tail:has-text('hello from tail')").waitFor({ timeout: 2000 });
      assert.ok(performance.now() - sent < 2000);
      await page.screenshot({ path: `${OUTPUT}logs.png` });

      // Edit a KV value in the browser; the function reads it.
      await page.goto(`${s.url}/studio#/apps/${app}/kv`);
      await page.fill("input[name=new-key]", "greeting");
      await page.click("button:has-text('New')");
      await page.fill("#kv-editor textarea[name=value]", "set in the Studio");
      await page.click("#kv-save");
      await page.locator("#kv-editor:has-text('saved')").waitFor();
      assert.deepEqual(await json(await s.call(app, "/read"), 200), { value: "set in the Studio" });
      await page.screenshot({ path: `${OUTPUT}kv.png` });

      // Roll back in the UI (confirming), and the function's answer changes.
      assert.equal((await json(await s.call(app, "/hello"), 200)).v, 2);
      page.once("dialog", (dialog) => void dialog.accept());
      await page.goto(`${s.url}/studio#/apps/${app}/deployments`);
      await page.click(`#deployments tr[data-deployment="${first.id}"] button.rollback`);
      await waitFor(
        "the rollback",
        async () => (await json(await s.call(app, "/hello"), 200)).v === 1,
        5000,
      );
      await page.screenshot({ path: `${OUTPUT}deployments.png`, fullPage: true });

      // Variables and keys: values never shown; a created key is shown once.
      await page.goto(`${s.url}/studio#/apps/${app}/variables`);
      await page.fill("input[name=name]", "GREETING");
      await page.fill("input[name=value]", "a-secret-value");
      await page.click("button:has-text('Set')");
      await page.waitForSelector("#vars td:has-text('GREETING')");
      assert.ok(!(await page.content()).includes("a-secret-value"));
      await page.screenshot({ path: `${OUTPUT}variables.png` });
      await page.goto(`${s.url}/studio#/apps/${app}/keys`);
      await page.click("button:has-text('Create a key')");
      await page.waitForSelector("#new-key:has-text('fnk_')");
      await page.screenshot({ path: `${OUTPUT}keys.png` });

      await page.goto(`${s.url}/studio#/apps/${app}/metrics`);
      await page.waitForSelector("#charts svg.chart");
      await page.screenshot({ path: `${OUTPUT}metrics.png`, fullPage: true });

      // A per-app key sees only its own app.
      await s.deployOk(appId("other"), COUNTER_APP);
      const key = await json<{ key: string }>(
        await s.api(`/apps/${app}/keys`, { method: "POST" }),
        201,
      );
      const scoped = await browser.newPage();
      await signIn(scoped, s, key.key);
      await scoped.waitForSelector(`#apps tr[data-app="${app}"]`);
      assert.equal(await scoped.locator("#apps tr[data-app]").count(), 1);
      await scoped.close();
    });
  },
});

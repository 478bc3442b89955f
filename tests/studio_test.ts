/**
 * The Studio in a real browser: Chromium (Debian's, or the one inside the npm package
 * `@sparticuz/chromium` where there is none: tests/chromium.ts) driven by playwright-core against
 * a real server. Screenshots of every page go to tests/output/ (ignored by git).
 */
import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";
import axe from "axe-core";
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
        "api/go.ts":
          "export function GET() { return Response.redirect('https://example.com/', 302); }",
      }, { message: "second" });
      await signIn(page, s);
      await page.waitForSelector(`#apps tr[data-app="${app}"]`);
      await page.screenshot({ path: `${OUTPUT}apps.png` });
      await page.click(`#apps tr[data-app="${app}"] a`);
      await page.waitForSelector("#live-deployment");
      await page.click("nav.tabs a:has-text('Functions')");

      // Try-it: the function's answer (pretty-printed) and its log line.
      await page.click(`#functions tbody[data-route="/functions/hello"] button:has-text('Try it')`);
      const tryIt = page.locator(`.try-it[data-route="/functions/hello"]`);
      await tryIt.locator("input[name=query]").fill("who=ada");
      await tryIt.locator("button:has-text('Send')").click();
      await tryIt.locator('.response-body:has-text(\'"hi": "ada"\')').waitFor();
      await tryIt.locator(".log:has-text('hello from ada')").waitFor();
      await page.screenshot({ path: `${OUTPUT}functions.png`, fullPage: true });
      // A redirect is shown as one (a page's fetch is told neither its status nor its Location).
      await page.click(`#functions tbody[data-route="/functions/go"] button:has-text('Try it')`);
      const tryGo = page.locator(`.try-it[data-route="/functions/go"]`);
      await tryGo.locator("button:has-text('Send')").click();
      await tryGo.locator(".status-badge:has-text('3xx redirect')").waitFor();
      assert.equal(await tryGo.locator("text=waiting for the log entries").count(), 0);

      // The live tail shows a new line within 2 s of the request.
      await page.goto(`${s.url}/studio#/apps/${app}/logs`);
      await page.waitForSelector("#tail-state:has-text('live')");
      const sent = performance.now();
      await (await s.call(app, "/hello?who=tail")).body?.cancel();
      await page.locator("#log-pane:has-text('hello from tail')").waitFor({ timeout: 2000 });
      assert.ok(performance.now() - sent < 2000);
      await page.screenshot({ path: `${OUTPUT}logs.png` });

      // Edit a KV value in the browser; the function reads it.
      await page.goto(`${s.url}/studio#/apps/${app}/kv`);
      await page.fill("input[name=new-key]", "greeting");
      await page.click("button:has-text('New')");
      await page.fill("#kv-editor textarea[name=value]", "set in the Studio");
      await page.click("#kv-save");
      await page.locator("#kv-editor:has-text('saved')").waitFor();
      // The store holds what the Studio saved, and the function reads the same. (Seen twice in
      // CI: the Studio's own PUT and GET of the key answered, then this read found no key; it
      // is read until it appears, for 2 s, so a lost write still fails here.)
      let stored = { value: "" };
      await waitFor("the saved key to be read back", async () => {
        const response = await s.api(`/apps/${app}/kv/greeting`);
        if (response.status !== 200) {
          await response.body?.cancel();
          return false;
        }
        stored = await response.json();
        return true;
      }, 2000);
      assert.equal(stored.value, "set in the Studio");
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
      await page.waitForSelector(`#functions tbody[data-route="/functions/hello"]`);
      assert.equal(await page.locator(`tbody[data-route="/functions/extra"]`).count(), 0);
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
      await page.waitForSelector("#charts .uplot canvas");
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

/**
 * Runs axe-core (npm) on the page as it is; fails naming every violation of impact "serious" or
 * "critical". The page's CSP would refuse an injected script, so axe runs through the debugger
 * protocol (`evaluate`), as an extension would.
 */
async function accessible(page: Page, where: string): Promise<void> {
  await page.evaluate(axe.source);
  const violations = await page.evaluate(async () => {
    // In the page: axe and document are its globals.
    // deno-lint-ignore no-explicit-any
    const window = globalThis as any;
    const result = await window.axe.run(window.document, { resultTypes: ["violations"] });
    // deno-lint-ignore no-explicit-any
    return result.violations.map((v: any) => ({
      id: v.id,
      impact: v.impact,
      nodes: v.nodes.slice(0, 3).map((n: { html: string }) => n.html.slice(0, 160)),
    }));
  }) as Array<{ id: string; impact: string; nodes: string[] }>;
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(bad, [], `${where}: accessibility violations ${JSON.stringify(bad, null, 1)}`);
}

Deno.test({
  name:
    "the Studio as a product: first run, environments, try-it with a path parameter, 10,000 log lines, chart hover, empty states, axe",
  async fn() {
    await withStudio(async (s, browser) => {
      // GET / on the platform's host leads to the Studio.
      const root = await fetch(`${s.url}/`, { redirect: "manual" });
      await root.body?.cancel();
      assert.equal(root.status, 302);
      assert.equal(root.headers.get("location"), "/studio");

      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(`${s.url}/studio`);
      await page.locator("#sign-in:has-text('Where the key comes from')").waitFor();
      await accessible(page, "sign-in");
      await page.screenshot({ path: `${OUTPUT}sign-in.png` });

      // First run: no apps yet, and the command that makes one.
      await signIn(page, s);
      await page.locator(".empty:has-text('No apps yet') code:has-text('fn deploy')").waitFor();
      await accessible(page, "apps, empty");

      // An app whose deployment is fresh: every page says what it will show and how to fill it.
      const app = appId("product");
      await s.deployOk(app, {
        "api/users/[id].ts":
          `export default (ctx) => ({ status: ctx.req.params.id === "missing" ? 404 : 200, body: { id: ctx.req.params.id, method: ctx.req.method } });`,
        "api/spam.ts":
          `export default (ctx) => { for (let i = 0; i < 999; i++) console.log("line " + ctx.req.query.n + "-" + i); if (ctx.req.query.n === "9") console.error("boom\\n    at spam (api/spam.ts:1:1)\\n    at run"); return { body: "ok" }; };`,
      }, { message: "production v1" });
      await s.deployOk(app, {
        "api/staging-only.ts": `export default () => ({ body: "staging" });`,
      }, { environment: "staging", message: "staging v1" });
      const empty: Array<[string, string]> = [
        ["overview", "No requests in the last hour"],
        ["logs", "No log lines in production yet"],
        ["metrics", "No requests in this window"],
        ["kv", "No keys yet"],
        ["variables", "No variables in production"],
        ["keys", "No per-app keys"],
      ];
      for (const [tab, title] of empty) {
        await page.goto(`${s.url}/studio#/apps/${app}/${tab}`);
        await page.locator(`.empty h2:has-text('${title}')`).waitFor();
        await accessible(page, `${tab}, empty`);
      }
      await page.screenshot({ path: `${OUTPUT}empty-keys.png` });
      // An app that does not exist has a page of its own, without the tabs.
      await page.goto(`${s.url}/studio#/apps/${appId("nobody")}/functions`);
      await page.locator("#unknown-app code:has-text('fn deploy --app')").waitFor();
      assert.equal(await page.locator("nav.tabs").count(), 0);
      await accessible(page, "unknown app");

      // The environment switcher: production's functions, then staging's, on the app's own host.
      await page.goto(`${s.url}/studio#/apps/${app}/functions`);
      await page.locator(`#functions tbody[data-route="/functions/users/[id]"]`).waitFor();
      assert.equal(await page.locator(`tbody[data-route="/functions/staging-only"]`).count(), 0);
      await page.selectOption("#env", "staging");
      await page.locator(`#functions tbody[data-route="/functions/staging-only"]`).waitFor();
      const port = new URL(s.url).port;
      assert.equal(
        await page.locator("#functions td.url a").first().innerText(),
        `http://${app}--staging.localhost:${port}/functions/staging-only`,
      );
      assert.match(page.url(), /env=staging/);
      await page.selectOption("#env", "production");
      await page.locator(`#functions tbody[data-route="/functions/users/[id]"]`).waitFor();

      // Try-it with a path parameter as a field, a method other than GET, JSON pretty-printed.
      const route = page.locator(`#functions tbody[data-route="/functions/users/[id]"]`);
      await route.locator("button:has-text('Try it')").click();
      const tryIt = page.locator(`.try-it[data-route="/functions/users/[id]"]`);
      await tryIt.locator("input[data-param=id]").fill("ada lovelace");
      await tryIt.locator("select[name=method]").selectOption("PATCH");
      assert.deepEqual(
        await tryIt.locator("select[name=method] option").allInnerTexts(),
        ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
      );
      await tryIt.locator("button:has-text('Send')").click();
      await tryIt.locator(`.response-body:has-text('"id": "ada lovelace"')`).waitFor();
      await tryIt.locator(`.response-body:has-text('"method": "PATCH"')`).waitFor();
      assert.match(
        await tryIt.locator(".snippet code").first().innerText(),
        /^curl -i -X PATCH http:\/\/.+\/functions\/users\/ada%20lovelace$/,
      );
      // One try-it at a time.
      await page.locator(`#functions tbody[data-route="/functions/spam"] button:has-text('Try it')`)
        .click();
      assert.equal(await page.locator(".try-it").count(), 1);
      await accessible(page, "functions, try-it open");
      await page.screenshot({ path: `${OUTPUT}functions-try-it.png`, fullPage: true });

      // 10,001 log lines arrive through the live tail (999 console lines a request, one request
      // line each, and one error); the pane keeps at most ~200 rows in the page.
      await page.goto(`${s.url}/studio#/apps/${app}/logs`);
      await page.waitForSelector("#tail-state:has-text('live')");
      for (let n = 0; n < 10; n++) await (await s.call(app, `/spam?n=${n}`)).body?.cancel();
      await waitFor("10,000 lines in the pane", async () => {
        const text = await page.locator("#log-count").innerText();
        return Number(text.replace(/\D/g, "")) >= 10_001;
      }, 20_000);
      const rows = await page.locator("#log-pane .log-row").count();
      assert.ok(rows > 10 && rows <= 200, `${rows} row elements in the page`);
      // Following: the newest line is in view.
      await page.locator("#log-pane .log-row:has-text('boom')").waitFor();
      // Scrolling up stops following; the jump back to the newest is one render.
      await page.locator("#log-pane").evaluate((el) => el.scrollTop = 0);
      await page.locator("#jump-newest").waitFor();
      await page.locator("#log-pane .log-row:has-text('line 0-0')").waitFor();
      const jumpMs = await page.evaluate(async () => {
        // deno-lint-ignore no-explicit-any
        const window = globalThis as any;
        const started = performance.now();
        window.document.getElementById("jump-newest").click();
        const pane = window.document.getElementById("log-pane");
        // The newest lines: n=9's error (folded to its first line) and its request line.
        while (
          !pane.querySelector(".log-row:last-child")?.textContent?.includes(
            "GET /functions/spam 200",
          ) || !pane.textContent.includes("boom")
        ) {
          await new Promise((resolve) => window.requestAnimationFrame(resolve));
        }
        return performance.now() - started;
      });
      assert.ok(jumpMs < 100, `the jump to the newest took ${jumpMs} ms`);
      assert.ok((await page.locator("#log-pane .log-row").count()) <= 200);
      // A stack is folded to its first line; a click unfolds it below the pane.
      await page.locator("#log-pane .log-row:has-text('boom') button.fold").click();
      await page.locator("#log-detail pre:has-text('at spam (api/spam.ts:1:1)')").waitFor();
      await page.screenshot({ path: `${OUTPUT}logs.png` });
      await accessible(page, "logs");

      // A request id filters, shown as a chip; Back to live clears it.
      const link = page.locator("#log-pane .log-row:has-text('boom') a.request-id");
      const requestId = (await link.getAttribute("title"))!.replace("only ", "");
      await link.click();
      await page.locator(`#filter-chips .chip[data-filter=request_id]:has-text('${requestId}')`)
        .waitFor();
      // The newest page of that request's 1,001 lines (older pages load on scrolling up).
      await waitFor("only that request's lines", async () => {
        const shown = Number((await page.locator("#log-count").innerText()).replace(/\D/g, ""));
        return shown >= 500 && shown <= 1001;
      }, 5000);
      const ids = await page.locator("#log-pane .log-row a.request-id").evaluateAll((links) =>
        links.map((a) => a.getAttribute("title"))
      );
      assert.ok(ids.length > 10 && ids.every((t) => t === `only ${requestId}`), String(ids));
      await page.click("#back-to-live");
      await page.locator("#filter-chips").waitFor({ state: "detached" });
      assert.doesNotMatch(page.url(), /request_id/);

      // Requests to no function are logged under the app, once a window with a count.
      for (let i = 0; i < 5; i++) await (await s.call(app, `/no-such-${i}`)).body?.cancel();
      await page.locator("#log-pane .log-row:has-text('/functions/no-such-0 404')").waitFor();
      await page.locator("#log-pane .log-row .st.s4:has-text('404')").waitFor();
      assert.equal(
        (await s.logs(app, "q=no%20function%20at%20this%20path&limit=100")).length,
        1,
      );

      // Search over history through the logs API: a line long out of the first page.
      await page.fill("#log-q", "line 0-17");
      await page.click("button:has-text('Search')");
      // "line 0-17" and "line 0-170" to "line 0-179": the first request's, 9,000 lines back.
      await page.locator("#log-count:has-text('11 lines')").waitFor();
      assert.equal(await page.locator("#log-pane .log-row:has-text('line 0-17')").count(), 11);
      await page.click("#back-to-live");

      // Metrics: 2xx, 4xx and 5xx apart, with a unit and a value under the cursor.
      for (let i = 0; i < 5; i++) await (await s.call(app, "/users/missing")).body?.cancel();
      await page.goto(`${s.url}/studio#/apps/${app}/metrics`);
      const card = page.locator(`[data-chart="app:requests"]`);
      await card.locator("canvas").waitFor();
      assert.match(await card.locator("h3").innerText(), /\b5 4xx\b/);
      const over = card.locator(".u-over");
      const box = (await over.boundingBox())!;
      await page.mouse.move(box.x + box.width - 2, box.y + box.height / 2);
      await card.locator(".u-legend .u-series:has-text('4xx') .u-value:has-text('requests')")
        .waitFor();
      assert.match(
        await card.locator(".u-legend .u-series").nth(1).innerText(),
        /2xx–3xx\s*\d+ requests/,
      );
      await page.screenshot({ path: `${OUTPUT}metrics.png`, fullPage: true });
      await accessible(page, "metrics");

      // The overview: live deployment, the hour's figures marked as this instance's.
      await page.goto(`${s.url}/studio#/apps/${app}`);
      await page.locator("#live-deployment:has-text('production v1')").waitFor();
      await page.locator("#hour-figures:has-text('this instance')").waitFor();
      await page.locator("#recent-errors:has-text('boom')").waitFor();
      await page.screenshot({ path: `${OUTPUT}overview.png`, fullPage: true });
      await accessible(page, "overview");
      for (const tab of ["deployments", "kv", "variables", "keys"]) {
        await page.goto(`${s.url}/studio#/apps/${app}/${tab}`);
        await page.locator(`#tab-${tab}`).waitFor();
        await page.waitForLoadState("networkidle");
        await accessible(page, tab);
      }
      await page.goto(`${s.url}/studio#/apps`);
      await page.locator(`#apps tr[data-app="${app}"]`).waitFor();
      await accessible(page, "apps");

      // Another app's key: a forbidden app gets a page of its own.
      const other = appId("other");
      await s.deployOk(other, COUNTER_APP);
      const { key } = await json<{ key: string }>(
        await s.api(`/apps/${other}/keys`, { method: "POST" }),
        201,
      );
      const scoped = await browser.newPage();
      await signIn(scoped, s, key);
      await scoped.waitForSelector(`#apps tr[data-app="${other}"]`);
      await scoped.goto(`${s.url}/studio#/apps/${app}/functions`);
      await scoped.locator("#forbidden:has-text('This key cannot see this app')").waitFor();
      await accessible(scoped, "forbidden");
      await scoped.close();
    });
  },
});

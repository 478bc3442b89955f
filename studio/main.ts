/// <reference lib="dom" />
/**
 * The Studio's client: a single-page app over the same `/v1` API, with the API key kept in
 * sessionStorage only, drawn with Preact and htm (npm, bundled by routes/studio.ts; no CDN).
 * Views by URL hash (studio/routes.ts checks every segment before a page sees it): the apps,
 * and per app its overview, functions, deployments, logs, metrics, KV, variables and keys.
 *
 * Modules: api.ts (the one function that sends the key, and the log tail), routes.ts (the
 * hash), ui.ts, data.ts, chart.ts and log_pane.ts (shared pieces), pages/ (one per page).
 */
import "./locale.ts";
import "uplot/dist/uPlot.min.css";
import "./style.css";
import type { VNode } from "preact";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, keepKey, signedInKey } from "./api.ts";
import { parseHash } from "./routes.ts";
import { html } from "./ui.ts";
import { AppPage } from "./pages/app.ts";
import { AppsPage } from "./pages/apps.ts";
import { SignIn } from "./pages/sign_in.ts";

/** The hash, kept in state: a change re-renders the page it names. */
function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return hash;
}

function Page({ hash }: { hash: string }): VNode {
  const view = parseHash(hash);
  if (view.kind === "refused") {
    return html`
      <div class="card">
        <p class="error" role="alert" id="route-error">Not a Studio page: ${view.error}.</p>
        <p><a href="#/apps">Back to the apps</a></p>
      </div>
    `;
  }
  if (view.kind === "app") {
    return html`
      <${AppPage} key=${view.app} app=${view.app} tab=${view.tab} env=${view.env}
        filters=${view.filters} />
    `;
  }
  return html`<${AppsPage} />`;
}

function Studio(): VNode {
  const hash = useHash();
  const [signedIn, setSignedIn] = useState(signedInKey() !== "");
  const [message, setMessage] = useState("");
  useEffect(() => {
    // A key refused later (revoked, the server's key changed) signs out with a message.
    const refused = (event: PromiseRejectionEvent) => {
      if (event.reason instanceof ApiError && event.reason.status === 401) {
        keepKey("");
        setMessage("Your key was refused; sign in again.");
        setSignedIn(false);
      }
    };
    addEventListener("unhandledrejection", refused);
    return () => removeEventListener("unhandledrejection", refused);
  }, []);
  if (!signedIn) {
    return html`<${SignIn} message=${message} onSignedIn=${() => {
      setMessage("");
      setSignedIn(true);
      if (!location.hash) location.hash = "#/apps";
    }} />`;
  }
  const signOut = () => {
    keepKey("");
    location.hash = "";
    setSignedIn(false);
  };
  return html`
    <header class="top">
      <a href="#/apps" class="brand">Studio</a>
      <nav aria-label="Studio"><a href="#/apps">Apps</a></nav>
      <span class="grow"></span>
      <button type="button" id="sign-out" onClick=${signOut}>Sign out</button>
    </header>
    <main id="main">
      <${Page} hash=${hash} />
    </main>
  `;
}

render(html`<${Studio} />`, document.getElementById("root")!);

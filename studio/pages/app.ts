/// <reference lib="dom" />
/**
 * One app's frame: its name, the environment switcher, the tabs, and the tab's page. An app with
 * no deployment at all, and an app the key may not see, get a page of their own instead.
 */
import type { VNode } from "preact";
import { api, ApiError, apiPath, type DeploymentPage } from "../api.ts";
import { useData } from "../data.ts";
import { hashOf, type LogFilters, type Tab, TABS } from "../routes.ts";
import { Empty, ErrorBox, html, Loading } from "../ui.ts";
import type { AppContext } from "./context.ts";
import { DeploymentsPage } from "./deployments.ts";
import { FunctionsPage } from "./functions.ts";
import { KeysPage } from "./keys.ts";
import { KvPage } from "./kv.ts";
import { LogsPage } from "./logs.ts";
import { MetricsPage } from "./metrics.ts";
import { OverviewPage } from "./overview.ts";
import { VariablesPage } from "./variables.ts";

/** What every tab's page gets: the app, the chosen environment and the deployments listing. */
const LABELS: Record<Tab, string> = {
  overview: "Overview",
  functions: "Functions",
  deployments: "Deployments",
  logs: "Logs",
  metrics: "Metrics",
  kv: "KV",
  variables: "Variables",
  keys: "Keys",
};

const PAGES: Record<Tab, (context: AppContext) => VNode> = {
  overview: OverviewPage,
  functions: FunctionsPage,
  deployments: DeploymentsPage,
  logs: LogsPage,
  metrics: MetricsPage,
  kv: KvPage,
  variables: VariablesPage,
  keys: KeysPage,
};

/** The environments of a listing: production first, then by name. */
function environments(listing: DeploymentPage): string[] {
  const names = new Set([
    ...Object.keys(listing.live),
    ...listing.deployments.map((d) => d.environment),
  ]);
  return [...names].sort((a, b) =>
    a === "production" ? -1 : b === "production" ? 1 : a.localeCompare(b)
  );
}

/** One app's page; `app`, `tab`, `env` and `filters` have been checked against their rules. */
export function AppPage(
  { app, tab, env, filters }: { app: string; tab: Tab; env: string | null; filters: LogFilters },
): VNode {
  const listing = useData(
    () => api<DeploymentPage>(`${apiPath`/apps/${app}/deployments`}?limit=100`),
    [app],
  );
  if (listing.error instanceof ApiError && listing.error.status === 403) {
    return html`
      <div id="forbidden">
        <h1>${app}</h1>
        <${Empty} title="This key cannot see this app">
          <p>You are signed in with a key of another app. A per-app key sees only its own app; the
                admin key sees every app. Sign out and sign in with the right key, or go back to
                <a href="#/apps">your apps</a>.</p>
          <//>
          </div>
    `;
  }
  if (listing.error) return html`<${ErrorBox} error=${listing.error} />`;
  if (!listing.data) return html`<${Loading} />`;
  const envs = environments(listing.data);
  if (envs.length === 0) {
    return html`
      <div id="unknown-app">
        <h1>${app}</h1>
        <${Empty} title=${`No app named ${app}`} command=${`fn deploy --app ${app}`}>
          <p>Nothing has been deployed under this name. Deploy a project folder to create it; its
                functions, logs and metrics then appear here. Or go back to <a href="#/apps">the
                apps</a>.</p>
          <//>
          </div>
    `;
  }
  const chosen = env && envs.includes(env)
    ? env
    : envs.includes("production")
    ? "production"
    : envs[0]!;
  const context: AppContext = {
    app,
    env: chosen,
    envs,
    listing: listing.data,
    filters,
    reload: listing.reload,
  };
  const switchTo = (event: Event) => {
    location.hash = hashOf(app, tab, (event.target as HTMLSelectElement).value);
  };
  const Page = PAGES[tab];
  return html`
    <div class="app-head">
      <h1><a href=${hashOf(app, "overview", chosen)}>${app}</a></h1>
      <label class="env-switch">Environment
            <select id="env" name="env" onChange=${switchTo} value=${chosen}>
              ${envs.map((e) => html`<option value=${e} selected=${e === chosen}>${e}</option>`)}
            </select>
          </label>
    </div>
    <nav class="tabs" aria-label="App pages">
          ${TABS.map((t) =>
            html`
              <a href=${hashOf(app, t, chosen)} class=${t === tab ? "active" : ""}
                aria-current=${t === tab ? "page" : undefined}>${LABELS[t]}</a>
            `
          )}
        </nav>
    <section id=${`tab-${tab}`} key=${`${tab}/${chosen}`}>
      <${Page} ...${context} />
    </section>
  `;
}

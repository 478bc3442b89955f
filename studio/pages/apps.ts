/// <reference lib="dom" />
/** The apps page: every app the key sees, with its environments and the last hour's figures. */
import type { VNode } from "preact";
import { api } from "../api.ts";
import { useData } from "../data.ts";
import { hashOf } from "../routes.ts";
import { ago, count, Empty, ErrorBox, formatTime, html, Loading } from "../ui.ts";

interface AppRow {
  id: string;
  environments: Array<{ name: string; live_deployment: string }>;
  last_deploy_at: string | null;
  requests_last_hour: number;
  errors_last_hour: number;
}

/** The list of apps. */
export function AppsPage(): VNode {
  const { data, error } = useData(() => api<{ apps: AppRow[] }>("/apps?limit=100"), []);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!data) return html`<${Loading} />`;
  if (data.apps.length === 0) {
    return html`
      <h1>Apps</h1>
      <${Empty}
        title="No apps yet"
        command=${"fn init my-app && cd my-app && fn deploy --app my-app"}
      >
        <p>An app appears here once it is deployed: its environments, live deployments, last
                deploy, and requests and errors of the last hour. Make one and deploy it:</p>
        <//>
    `;
  }
  return html`
    <h1>Apps</h1>
    <table id="apps">
      <thead>
        <tr>
          <th scope="col">app</th>
          <th scope="col">environments</th>
          <th scope="col">last deploy</th>
          <th scope="col" class="num">requests, 1 h</th>
          <th scope="col" class="num">5xx, 1 h</th>
        </tr>
      </thead>
      <tbody>
            ${data.apps.map((app) =>
              html`
                <tr data-app=${app.id} key=${app.id}>
                  <td><a href=${hashOf(app.id)}>${app.id}</a></td>
                  <td>${app.environments.map((e) =>
                    html`<a class="env-chip" href=${
                      hashOf(app.id, "overview", e.name)
                    }>${e.name}</a>`
                  )}</td>
                  <td>${app.last_deploy_at
                    ? html`<span title=${formatTime(app.last_deploy_at)}>${
                      ago(app.last_deploy_at)
                    }</span>`
                    : "–"}</td>
                  <td class="num">${count(app.requests_last_hour)}</td>
                  <td class="num">${count(app.errors_last_hour)}</td>
                </tr>
              `
            )}
          </tbody>
    </table>
  `;
}

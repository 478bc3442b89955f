/// <reference lib="dom" />
/**
 * The functions of an environment's live deployment: one compact row per route with its public
 * URL on the app's own host, copy buttons for the URL and a curl command, the last hour's
 * requests and errors and the last error; Try it opens under one route at a time.
 */
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import { api, apiPath, type LogEntry, type LogPage, type MetricsSeries } from "../api.ts";
import { useData } from "../data.ts";
import { hashOf } from "../routes.ts";
import { ago, CopyButton, count, Empty, ErrorBox, html } from "../ui.ts";
import type { AppContext } from "./context.ts";
import { TryIt } from "./try_it.ts";

/** The apps' base domain, as the page was served with it. */
function baseDomain(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="fn-base-domain"]')?.content ||
    "localhost";
}

/** The app's own origin for `env`: `<app>.<base>` or `<app>--<env>.<base>`, on this port. */
export function appUrl(app: string, env: string): string {
  const host = env === "production" ? app : `${app}--${env}`;
  const port = location.port ? `:${location.port}` : "";
  return `${location.protocol}//${host}.${baseDomain()}${port}`;
}

/** The last hour's figures per function, and each function's latest error. */
async function activity(app: string, env: string) {
  const [metrics, errors] = await Promise.all([
    api<MetricsSeries>(apiPath`/apps/${app}/metrics?minutes=${60}&step=${60}`),
    api<LogPage>(
      `${apiPath`/apps/${app}/logs`}?${new URLSearchParams({
        level: "error",
        environment: env,
        limit: "200",
      })}`,
    ),
  ]);
  const lastError = new Map<string, LogEntry>();
  for (const entry of errors.entries) {
    if (entry.function && !lastError.has(entry.function)) lastError.set(entry.function, entry);
  }
  return { metrics, lastError };
}

/** The Functions tab. */
export function FunctionsPage({ app, env, listing }: AppContext): VNode {
  const [open, setOpen] = useState<string | null>(null);
  const figures = useData(() => activity(app, env), [app, env]);
  const liveId = listing.live[env];
  const live = listing.deployments.find((d) => d.id === liveId);
  if (!live) {
    return html`
      <${Empty} title=${`Nothing live in ${env}`} command=${`fn deploy --app ${app} --env ${env}`}>
        <p>The functions of the live deployment show here, each with its URL and Try it. Deploy a
              project folder to ${env}:</p>
        <//>
    `;
  }
  const origin = appUrl(app, env);
  return html`<p class="muted small">Live deployment <code>${live.id}</code>; URLs on the app's own
      host. Requests and errors: last hour, all environments.</p>
    ${figures.error ? html`<${ErrorBox} error=${figures.error} />` : ""}
    <table id="functions" class="functions">
      <thead><tr>
        <th scope="col">route</th><th scope="col">public URL</th>
        <th scope="col" class="num">requests, 1 h</th><th scope="col" class="num">5xx, 1 h</th>
        <th scope="col">last error</th><th scope="col"><span class="visually-hidden">actions</span></th>
      </tr></thead>
      ${
    live.routes.map((route) => {
      const points = figures.data?.metrics.functions[route.file] ?? [];
      const requests = points.reduce((n, p) => n + p.requests, 0);
      const errors = points.reduce((n, p) => n + p.errors, 0);
      const error = figures.data?.lastError.get(route.file);
      const url = `${origin}${route.pattern}`;
      const isOpen = open === route.pattern;
      return html`
        <tbody key=${route.pattern} data-route=${route.pattern}
          class=${isOpen ? "open" : ""}>
                <tr>
                  <td><code>${route.pattern}</code><div class="muted small">${route.file}</div></td>
                  <td class="url"><a href=${url} target="_blank" rel="noreferrer">${url}</a>
                    <span class="actions"><${CopyButton} text=${url} label="Copy URL" />
                    <${CopyButton} text=${`curl -i ${url}`} label="Copy curl" /></span></td>
                  <td class="num">${figures.data ? count(requests) : "…"}</td>
                  <td class="num">${figures.data ? count(errors) : "…"}</td>
                  <td class="last-error">${error
                    ? html`
                      <a href=${hashOf(
                        app,
                        "logs",
                        env,
                        error.request_id ? { request_id: error.request_id } : {},
                      )}
                        title=${error.message}>${error.message.split("\n")[0]?.slice(0, 80)}</a>
                      <div class="muted small">${ago(error.time)}</div>
                    `
                    : html`<span class="muted">none</span>`}</td>
                  <td><button type="button" class=${isOpen ? "" : "primary"} aria-expanded=${isOpen}
                    onClick=${() => setOpen(isOpen ? null : route.pattern)}>${isOpen
                      ? "Close"
                      : "Try it"}</button></td>
                </tr>
                ${isOpen
                  ? html`
                    <tr class="try-row">
                      <td colspan="6">
                        <${TryIt} app=${app} env=${env} pattern=${route.pattern} origin=${origin} />
                      </td>
                    </tr>
                  `
                  : ""}
              </tbody>
      `;
    })
  }
    </table>`;
}

/// <reference lib="dom" />
/**
 * An app's overview: the environment's live deployment and last deploy, the last hour's
 * requests, errors and p50/p99 with small charts, and the latest errors.
 */
import type { VNode } from "preact";
import { api, apiPath, type LogPage, type MetricsSeries } from "../api.ts";
import { Chart } from "../chart.ts";
import { useData } from "../data.ts";
import { hashOf } from "../routes.ts";
import { ago, count, Empty, ErrorBox, Figure, formatTime, html, Loading, millis } from "../ui.ts";
import type { AppContext } from "./context.ts";
import { appUrl } from "./functions.ts";

/** The last hour per minute, and the hour as one point (its p50 and p99). */
async function lastHour(app: string) {
  const [minutes, hour] = await Promise.all([
    api<MetricsSeries>(apiPath`/apps/${app}/metrics?minutes=${60}&step=${1}`),
    api<MetricsSeries>(apiPath`/apps/${app}/metrics?minutes=${60}&step=${60}`),
  ]);
  return { minutes, hour };
}

/** A note for figures kept per instance. */
export function scopeNote(series: MetricsSeries): string {
  return series.shared === false
    ? "this instance's figures: each instance keeps its own"
    : "all instances";
}

/** The overview tab. */
export function OverviewPage({ app, env, listing }: AppContext): VNode {
  const metrics = useData(() => lastHour(app), [app]);
  const errors = useData(
    () =>
      api<LogPage>(`${apiPath`/apps/${app}/logs`}?${new URLSearchParams({
        level: "error",
        environment: env,
        limit: "5",
      })}`),
    [app, env],
  );
  const liveId = listing.live[env];
  const live = listing.deployments.find((d) => d.id === liveId);
  const last = listing.deployments.find((d) => d.environment === env);
  const url = appUrl(app, env);
  return html`<div class="overview">
    <div class="grid two">
      <section class="card" id="live-deployment">
        <h2>Live in ${env}</h2>
        ${
    live
      ? html`
        <p><code>${live.id}</code> <span class="mark live">live</span></p>
        <p>${live.message ?? html`<span class="muted">no message</span>`}</p>
        <p
          class="muted small">deployed ${ago(live.created_at)} (${formatTime(
            live.created_at,
            false,
          )}) by ${live.deployed_by}; ${live.routes.length} ${live.routes.length === 1
            ? "function"
            : "functions"}</p>
      `
      : html`<p class="muted">No live deployment in ${env}.</p>`
  }
        <p class="small">Public URL: <a href=${url} rel="noreferrer" target="_blank">${url}</a></p>
      </section>
      <section class="card" id="last-deploy">
        <h2>Last deploy to ${env}</h2>
        ${
    last
      ? html`
        <p><code>${last.id}</code> ${last.live ? html`<span class="mark live">live</span>` : ""}</p>
        <p class="muted small">${ago(last.created_at)} (${formatTime(last.created_at, false)})</p>
        <p><a href=${hashOf(app, "deployments", env)}>All deployments</a></p>
      `
      : html`<p class="muted">None yet.</p>`
  }
      </section>
    </div>
    ${
    metrics.error
      ? html`<${ErrorBox} error=${metrics.error} />`
      : !metrics.data
      ? html`<${Loading} />`
      : html`<${HourFigures} ...${metrics.data} app=${app} env=${env} />`
  }
    <section class="card" id="recent-errors">
      <h2>Recent errors in ${env}</h2>
      ${
    errors.error
      ? html`<${ErrorBox} error=${errors.error} />`
      : !errors.data
      ? html`<${Loading} />`
      : errors.data.entries.length === 0
      ? html`<p class="muted">No errors logged. Lines logged with <code>console.error</code>, and
          requests that fail with 5xx, show here.</p>`
      : html`<ul class="recent-errors">${
        errors.data.entries.map((e) =>
          html`<li key=${e.id}>
            <span class="muted small">${formatTime(e.time)}</span>
            ${e.function ? html`<code>${e.function}</code>` : ""}
            ${
            e.request_id
              ? html`<a href=${
                hashOf(app, "logs", env, { request_id: e.request_id })
              }>${e.request_id}</a>`
              : ""
          }
            <div class="message">${e.message.split("\n")[0]}</div>
          </li>`
        )
      }</ul>`
  }
    </section>
  </div>`;
}

function HourFigures(
  { minutes, hour, app, env }: {
    minutes: MetricsSeries;
    hour: MetricsSeries;
    app: string;
    env: string;
  },
): VNode {
  const total = hour.app[0];
  const requests = total?.requests ?? 0;
  const times = minutes.app.map((p) => Date.parse(p.minute));
  const note = `last hour, all environments; ${scopeNote(minutes)}`;
  if (requests === 0) {
    return html`
      <section class="card" id="hour-figures">
        <${Empty} title="No requests in the last hour" command=${`curl ${
          appUrl(app, env)
        }/functions/…`}>
          <p>Requests, errors and latency of the last hour show here once functions are called
                (${scopeNote(minutes)}). Call one, or use Try it on the
                <a href=${hashOf(app, "functions", env)}>Functions</a> page:</p>
          <//>
          </section>
    `;
  }
  const line = (values: Array<number | null>, color: string, label: string) => [{
    label,
    color,
    values,
  }];
  return html`
    <section class="figures" id="hour-figures" aria-label=${note}>
      <p class="muted small">${note}</p>
      <div class="grid four">
        <${Figure} label="Requests" value=${count(requests)}>
          <${Chart} spark title="requests" unit="requests" times=${times}
            lines=${line(minutes.app.map((p) => p.requests), "#2456d3", "requests")} />
          <//>
          <${Figure} label="Errors (5xx)" value=${count(total?.errors ?? 0)}
            note=${`${count(total?.client_errors ?? 0)} client errors (4xx)`}>
            <${Chart} spark title="5xx" unit="requests" times=${times}
              lines=${line(minutes.app.map((p) => p.errors), "#c0392b", "5xx")} />
            <//>
            <${Figure} label="p50 latency" value=${millis(total?.p50_ms)}>
              <${Chart} spark title="p50" unit="ms" times=${times}
                lines=${line(minutes.app.map((p) => p.p50_ms), "#2456d3", "p50")} />
              <//>
              <${Figure} label="p99 latency" value=${millis(total?.p99_ms)}>
                <${Chart} spark title="p99" unit="ms" times=${times}
                  lines=${line(minutes.app.map((p) => p.p99_ms), "#8e44ad", "p99")} />
                <//>
                </div>
                </section>
  `;
}

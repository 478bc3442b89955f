/// <reference lib="dom" />
/**
 * The Metrics tab: requests by status class (2xx–3xx, 4xx, 5xx) and p50/p99 latency, for the
 * app and for each of its busiest functions, in a grid. Longer windows ask the API for its
 * bounded, stepped series (at most 120 points a line).
 */
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import { api, apiPath, type MetricsPoint, type MetricsSeries } from "../api.ts";
import { Chart, type Line } from "../chart.ts";
import { useData } from "../data.ts";
import { hashOf } from "../routes.ts";
import { count, Empty, ErrorBox, html, Loading, millis } from "../ui.ts";
import type { AppContext } from "./context.ts";
import { scopeNote } from "./overview.ts";

/** The windows offered, in minutes. */
const WINDOWS = [[60, "last hour"], [360, "last 6 hours"], [1440, "last day"]] as const;
/** Points a line aims at: the step is the window over this, rounded up. */
const POINTS = 120;

const COLORS = {
  ok: "#2e7d32",
  client: "#b26a00",
  server: "#c0392b",
  p50: "#2456d3",
  p99: "#8e44ad",
};

const sum = (points: MetricsPoint[], pick: (p: MetricsPoint) => number) =>
  points.reduce((n, p) => n + pick(p), 0);
const peak = (values: Array<number | null>) =>
  values.reduce<number | null>((m, v) => v === null ? m : Math.max(m ?? 0, v), null);

/** The two charts of one series (the app's or a function's). */
function Pair({ name, points, step }: { name: string; points: MetricsPoint[]; step: number }) {
  const times = points.map((p) => Date.parse(p.minute));
  const client = points.map((p) => p.client_errors ?? 0);
  const server = points.map((p) => p.errors);
  const ok = points.map((p, i) => p.requests - client[i]! - server[i]!);
  const counts: Line[] = [
    { label: "2xx–3xx", color: COLORS.ok, values: ok },
    { label: "4xx", color: COLORS.client, values: client },
    { label: "5xx", color: COLORS.server, values: server },
  ];
  const p50 = points.map((p) => p.p50_ms), p99 = points.map((p) => p.p99_ms);
  const latency: Line[] = [
    { label: "p50", color: COLORS.p50, values: p50 },
    { label: "p99", color: COLORS.p99, values: p99 },
  ];
  const per = step === 1 ? "per minute" : `per ${step} min`;
  return html`
    <${Chart} id=${`${name}:requests`} title=${`${name}: requests ${per}`}
      unit="requests" times=${times} lines=${counts}
      summary=${`${count(sum(points, (p) => p.requests))} in all · ${
        count(sum(points, (p) => p.client_errors ?? 0))
      } 4xx · ${count(sum(points, (p) => p.errors))} 5xx`} />
    <${Chart} id=${`${name}:latency`} title=${`${name}: latency`} unit="ms" times=${times}
      lines=${latency} summary=${`peak p50 ${millis(peak(p50))} · peak p99 ${millis(peak(p99))}`} />
  `;
}

/** The Metrics tab. */
export function MetricsPage({ app, env }: AppContext): VNode {
  const [minutes, setMinutes] = useState(60);
  const step = Math.ceil(minutes / POINTS);
  const series = useData(
    () => api<MetricsSeries>(apiPath`/apps/${app}/metrics?minutes=${minutes}&step=${step}`),
    [app, minutes],
  );
  const picker = html`<label>Window <select name="window" value=${minutes}
      onChange=${(e: Event) => setMinutes(Number((e.target as HTMLSelectElement).value))}>
      ${
    WINDOWS.map(([m, label]) =>
      html`<option value=${m} selected=${m === minutes}>${label}</option>`
    )
  }
    </select></label>`;
  if (series.error) return html`${picker}<${ErrorBox} error=${series.error} />`;
  if (!series.data) return html`${picker}<${Loading} />`;
  const data = series.data;
  const functions = Object.entries(data.functions);
  return html`<div class="row">${picker}
      <span class="muted small">All environments; ${scopeNote(data)}. Hover a chart for its
        values.</span></div>
    ${
    sum(data.app, (p) => p.requests) === 0
      ? html`
        <${Empty} title="No requests in this window">
          <p>Charts of requests by status and of latency, for the app and each function, fill in
                    as functions are called. Call one from the <a href=${hashOf(
                      app,
                      "functions",
                      env,
                    )}>
                    Functions</a> page (Try it), or with curl.</p>
          <//>
      `
      : html`<div id="charts">
          <h2>The app</h2>
          <div class="grid two"><${Pair} name="app" points=${data.app} step=${data.step_minutes} /></div>
          <h2>By function</h2>
          ${
        functions.map(([file, points]) =>
          html`
            <div class="grid two" key=${file}>
              <${Pair} name=${file} points=${points} step=${data.step_minutes} />
            </div>
          `
        )
      }
          ${
        data.functions_omitted > 0
          ? html`<p class="muted">${data.functions_omitted} quieter functions are not shown.</p>`
          : ""
      }
        </div>`
  }`;
}

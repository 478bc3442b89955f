/// <reference lib="dom" />
/**
 * The Deployments tab: the environment's deployments with their live and previous marks, files,
 * a line diff of any two, and roll back or forward (confirmed).
 */
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import { api, apiPath, type Deployment } from "../api.ts";
import { DEPLOYMENT_ID, ENVIRONMENT } from "../../runtime/ids.ts";
import { ago, Empty, ErrorBox, formatTime, html } from "../ui.ts";
import type { AppContext } from "./context.ts";

/** A line diff by longest common subsequence (files are small). */
export function lineDiff(a: string[], b: string[]) {
  const n = a.length, m = b.length;
  // lcs[i * (m + 1) + j]: the longest common subsequence of a[i..] and b[j..].
  const lcs = new Uint32Array((n + 1) * (m + 1));
  const at = (i: number, j: number) => lcs[i * (m + 1) + j]!;
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * (m + 1) + j] = a[i] === b[j]
        ? at(i + 1, j + 1) + 1
        : Math.max(at(i + 1, j), at(i, j + 1));
    }
  }
  const out: Array<{ kind: "same" | "add" | "del"; text: string }> = [];
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) out.push({ kind: "same", text: a[i++]! }), j++;
    else if (j < m && (i >= n || at(i, j + 1) >= at(i + 1, j))) {
      out.push({ kind: "add", text: b[j++]! });
    } else out.push({ kind: "del", text: a[i++]! });
  }
  return out;
}

type Sources = Record<string, string>;
const read = (app: string, id: string) =>
  api<{ source_files: Sources }>(apiPath`/apps/${app}/deployments/${id}`);

function Files({ id, files }: { id: string; files: Sources }): VNode {
  return html`<h2>Files of ${id}</h2>${
    Object.entries(files).map(([path, text]) =>
      html`
        <h3>${path}</h3>
        <pre>${text}</pre>
      `
    )
  }`;
}

function Diff({ a, b, left, right }: { a: string; b: string; left: Sources; right: Sources }) {
  const paths = [...new Set([...Object.keys(left), ...Object.keys(right)])].sort();
  const changed = paths.filter((p) => (left[p] ?? "") !== (right[p] ?? ""));
  return html`<h2>Diff ${a} → ${b}</h2>${
    changed.length === 0 ? html`<p class="muted">The two deployments have the same files.</p>` : ""
  }${
    changed.map((path) =>
      html`
        <h3>${path}</h3>
        <pre class="diff">${lineDiff(
          (left[path] ?? "").split("\n"),
          (right[path] ?? "").split("\n"),
        ).map((line) =>
          line.kind === "same"
            ? html`<span>${`  ${line.text}\n`}</span>`
            : line.kind === "add"
            ? html`<ins>${`+ ${line.text}`}</ins>`
            : html`<del>${`- ${line.text}`}</del>`
        )}</pre>
      `
    )
  }`;
}

/** The Deployments tab. */
export function DeploymentsPage({ app, env, listing, reload }: AppContext): VNode {
  const deployments = listing.deployments.filter((d) => d.environment === env);
  const [detail, setDetail] = useState<VNode | null>(null);
  const [left, setLeft] = useState(deployments[0]?.id ?? "");
  const [right, setRight] = useState(deployments[1]?.id ?? deployments[0]?.id ?? "");
  if (deployments.length === 0) {
    return html`
      <${Empty} title=${`No deployments to ${env}`} command=${`fn deploy --app ${app} --env ${env}`}>
        <p>Each deploy to ${env} is listed here with its message, files and routes; any two can be
              compared, and any one made live again.</p>
        <//>
    `;
  }
  const guard = (run: () => Promise<void>) => () =>
    run().catch((error) => setDetail(html`<${ErrorBox} error=${error} />`));
  const liveId = listing.live[env] ?? "";
  /** Makes `d` live in its environment again, after a confirmation. */
  const makeLive = (d: Deployment, verb: string) =>
    guard(async () => {
      if (!DEPLOYMENT_ID.test(d.id) || !ENVIRONMENT.test(d.environment)) return;
      if (!confirm(`${verb}: make ${d.id} live again in ${d.environment}?`)) return;
      await api(apiPath`/apps/${app}/environments/${d.environment}/rollback`, {
        json: { deployment_id: d.id },
      });
      reload();
    });
  const pick = (name: string, value: string, set: (v: string) => void) =>
    html`
      <select name=${name} aria-label=${name === "left" ? "from" : "to"} value=${value}
        onChange=${(e: Event) => set((e.target as HTMLSelectElement).value)}>
            ${deployments.map((d) =>
              html`<option value=${d.id} selected=${d.id === value}>${d.id}</option>`
            )}
          </select>
    `;
  return html`
    <table id="deployments">
      <thead>
        <tr>${["id", "message", "source", "deployed by", "time", "routes", "packages", ""].map((
          h,
        ) =>
          html`<th scope="col">${h || html`<span class="visually-hidden">actions</span>`}</th>`
        )}</tr>
      </thead>
      <tbody>${deployments.map((d) => {
        // Ids sort by creation time: a deployment newer than the live one is a roll forward.
        const verb = d.id > liveId ? "Roll forward" : "Roll back";
        return html`
          <tr key=${d.id} data-deployment=${d.id} data-live=${d.live ? "" : undefined}
            data-previous=${d.previous ? "" : undefined}>
            <td><code>${d.id}</code>${d.live
              ? html`<span class="mark live">live</span>`
              : ""}${d.previous ? html`<span class="mark previous">previous</span>` : ""}</td>
            <td>${d.message ?? ""}</td>
            <td>${d.source ?? ""}</td>
            <td>${d.deployed_by}</td>
            <td><span title=${formatTime(d.created_at)}>${ago(d.created_at)}</span></td>
            <td class="small">${d.routes.map((r) => r.pattern).join(" ")}</td>
            <td class="small packages">${Object.entries(d.packages ?? {}).map(([name, version]) =>
              `${name}@${version}`
            ).join(" ")}</td>
            <td class="actions">
                    <button type="button" onClick=${guard(async () =>
                      setDetail(
                        html`<${Files} id=${d.id} files=${(await read(app, d.id)).source_files} />`,
                      )
                    )}>Files</button>
                    ${d.live
                      ? ""
                      : html`<button type="button" class="rollback" onClick=${
                        makeLive(d, verb)
                      }>${verb}</button>`}
                  </td>
          </tr>
        `;
      })}</tbody>
    </table>
    <div class="row">Diff ${pick("left", left, setLeft)} → ${pick("right", right, setRight)}
          <button type="button" onClick=${guard(async () => {
            const [a, b] = await Promise.all([read(app, left), read(app, right)]);
            setDetail(
              html`<${Diff} a=${left} b=${right} left=${a.source_files} right=${b.source_files} />`,
            );
          })}>Diff</button></div>
    <div id="deployment-detail">${detail}</div>
  `;
}

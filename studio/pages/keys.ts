/// <reference lib="dom" />
/**
 * The Keys tab: the app's per-app keys (ids, labels and times; the admin key only), create one
 * (its secret shown once) and revoke.
 */
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import { api, apiPath } from "../api.ts";
import { useData } from "../data.ts";
import { ago, Empty, ErrorBox, formatTime, html, Loading, Snippet } from "../ui.ts";
import type { AppContext } from "./context.ts";

interface Key {
  id: string;
  created_at: string;
  name: string | null;
}

/** The Keys tab. */
export function KeysPage({ app }: AppContext): VNode {
  const keys = useData(() => api<{ keys: Key[] }>(apiPath`/apps/${app}/keys`), [app]);
  const [created, setCreated] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const create = async () => {
    try {
      const key = await api<{ key: string }>(apiPath`/apps/${app}/keys`, { method: "POST" });
      setCreated(key.key);
      keys.reload();
    } catch (failure) {
      setError(failure);
    }
  };
  const revoke = async (id: string) => {
    if (!confirm(`Revoke ${id}? Clients using it are refused at once.`)) return;
    try {
      await api(apiPath`/apps/${app}/keys/${id}`, { method: "DELETE" });
      keys.reload();
    } catch (failure) {
      setError(failure);
    }
  };
  return html`
    <div class="row">
      <button type="button" class="primary" onClick=${create}>Create a key</button>
      <span
        class="muted small">A per-app key deploys, reads logs and edits KV of ${app} only.</span>
    </div>
        ${created
          ? html`
            <div class="card" id="new-key">
              <p><strong>Shown once: store it now.</strong></p>
              <${Snippet} text=${created} />
            </div>
          `
          : ""}
        ${error ? html`<${ErrorBox} error=${error} />` : ""}
        ${keys.error ? html`<${ErrorBox} error=${keys.error} />` : ""}
        ${!keys.data
          ? (keys.error ? "" : html`<${Loading} />`)
          : keys.data.keys.length === 0
          ? html`
            <${Empty} title="No per-app keys" command=${`fn keys create --app ${app}`}>
              <p>A per-app key lets a CI job or a teammate deploy and read this app without the admin
                        key. Create one with the button above, or from the CLI:</p>
              <//>
          `
          : html`
            <table id="keys">
              <thead>
                <tr>
                  <th scope="col">id</th>
                  <th scope="col">label</th>
                  <th scope="col">created</th>
                  <th scope="col"><span class="visually-hidden">actions</span></th>
                </tr>
              </thead>
              <tbody>${keys.data.keys.map((k) =>
                html`
                  <tr key=${k.id}>
                    <td><code>${k.id}</code></td>
                    <td>${k.name ?? ""}</td>
                    <td><span title=${formatTime(k.created_at)}>${ago(k.created_at)}</span></td>
                    <td><button type="button" onClick=${() => revoke(k.id)}>Revoke</button></td>
                  </tr>
                `
              )}</tbody>
            </table>
          `}
  `;
}

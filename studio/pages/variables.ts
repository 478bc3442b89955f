/// <reference lib="dom" />
/**
 * The Variables tab: the environment's variables by name with masked previews (values are never
 * shown), set and delete. A set variable reaches `ctx.env` without a redeploy.
 */
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import { api, apiPath } from "../api.ts";
import { useData } from "../data.ts";
import { ago, Empty, ErrorBox, formatTime, html, Loading } from "../ui.ts";
import type { AppContext } from "./context.ts";

interface Variable {
  name: string;
  preview: string;
  updated_at: string;
}

/** The Variables tab. */
export function VariablesPage({ app, env }: AppContext): VNode {
  const vars = useData(
    () => api<{ vars: Variable[] }>(apiPath`/apps/${app}/environments/${env}/vars`),
    [app, env],
  );
  const [error, setError] = useState<unknown>(null);
  const act = (run: () => Promise<unknown>) =>
    run().then(() => {
      setError(null);
      vars.reload();
    }, setError);
  const set = (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const field = (name: string) => form.elements.namedItem(name) as HTMLInputElement;
    const name = field("name").value.trim();
    void act(async () => {
      await api(apiPath`/apps/${app}/environments/${env}/vars/${name}`, {
        method: "PUT",
        json: { value: field("value").value },
      });
      form.reset();
    });
  };
  return html`
    <form class="row card" onSubmit=${set} id="set-var">
      <label for="var-name">Name</label>
      <input id="var-name" name="name" placeholder="NAME" required />
      <label for="var-value">Value</label>
      <input id="var-value" name="value" type="password" autocomplete="off" required />
      <button class="primary" type="submit">Set in ${env}</button>
    </form>
        ${error ? html`<${ErrorBox} error=${error} />` : ""}
        ${vars.error ? html`<${ErrorBox} error=${vars.error} />` : ""}
        ${!vars.data
          ? (vars.error ? "" : html`<${Loading} />`)
          : vars.data.vars.length === 0
          ? html`
            <${Empty} title=${`No variables in ${env}`}
              command=${`fn env set API_TOKEN <value> --app ${app} --env ${env}`}>
              <p>Variables reach functions as <code>ctx.env.NAME</code>, per environment, without a
                        redeploy. Values are write-only: only a masked preview is ever shown. Set one above,
                        or from the CLI:</p>
              <//>
          `
          : html`
            <table id="vars">
              <thead>
                <tr>
                  <th scope="col">name</th>
                  <th scope="col">value</th>
                  <th scope="col">updated</th>
                  <th scope="col"><span class="visually-hidden">actions</span></th>
                </tr>
              </thead>
              <tbody>${vars.data.vars.map((v) =>
                html`
                  <tr key=${v.name}>
                    <td><code>${v.name}</code></td>
                    <td>${v.preview}</td>
                    <td><span title=${formatTime(v.updated_at)}>${ago(v.updated_at)}</span></td>
                    <td><button type="button" onClick=${() =>
                      act(() =>
                        api(apiPath`/apps/${app}/environments/${env}/vars/${v.name}`, {
                          method: "DELETE",
                        })
                      )}>Delete</button></td>
                  </tr>
                `
              )}</tbody>
            </table>
          `}
  `;
}

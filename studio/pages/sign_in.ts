/// <reference lib="dom" />
/** The sign-in page: a key, checked against the API before it is kept, and where keys come from. */
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import { api, keepKey } from "../api.ts";
import { html } from "../ui.ts";

/** Signs in with a key; `onSignedIn` once the API accepted it. `message`: why we are here. */
export function SignIn(
  { message = "", onSignedIn }: { message?: string; onSignedIn: () => void },
): VNode {
  const [error, setError] = useState(message);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const input = (event.target as HTMLFormElement).elements.namedItem("key") as HTMLInputElement;
    setBusy(true);
    keepKey(input.value.trim());
    try {
      await api("/apps?limit=1");
      onSignedIn();
    } catch (failure) {
      keepKey("");
      setError(`That key was refused: ${(failure as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <main class="sign-in-page">
      <form id="sign-in" class="card" onSubmit=${submit}>
        <h1>Sign in to the Studio</h1>
        <label for="key">API key</label>
        <div class="row">
          <input type="password" id="key" name="key" autocomplete="off" required size="40" />
          <button class="primary" type="submit" disabled=${busy}>Sign in</button>
        </div>
        <p class="error" id="sign-in-error" role="alert">${error}</p>
        <h2>Where the key comes from</h2>
        <ul class="where">
          <li>
              <strong>Admin key</strong> (every app): the server's <code>API_KEY</code>. Locally, <code
              >deno task dev</code> and <code>fn dev</code> make one and print it with this page's URL
              (kept in <code>.data/admin.key</code> and <code>.fn/admin.key</code>).
            </li>
          <li>
              <strong>Per-app key</strong> (one app): <code>fn keys create --app my-app</code>, or
              Create a key on the app's Keys page. It is shown once, when it is made.
            </li>
        </ul>
        <p class="muted small">The key stays in this tab (sessionStorage) and goes only to this
            server's <code>/v1/</code> API.</p>
      </form>
    </main>
  `;
}

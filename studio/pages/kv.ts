/// <reference lib="dom" />
/**
 * The KV tab: the app's keys by prefix, paged by cursor (More until the listing is done), and
 * an editor that shows a value with its expiry, saves it (an empty TTL keeps the expiry) and
 * deletes it. KV belongs to the app, shared by its environments.
 */
import type { VNode } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, apiPath } from "../api.ts";
import { Empty, ErrorBox, formatTime, html } from "../ui.ts";
import type { AppContext } from "./context.ts";

/** "in 3 d 4 h", "in 12 min": how far `at` (ms since the epoch) is from now. */
function fromNow(at: number): string {
  const minutes = Math.max(0, Math.round((at - Date.now()) / 60_000));
  if (minutes < 60) return `in ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return hours < 48
    ? `in ${hours} h ${minutes % 60} min`
    : `in ${Math.floor(hours / 24)} d ${hours % 24} h`;
}

interface KvEntry {
  value: string;
  expires_at: string;
}

function Editor(
  { app, name, entry, onDeleted }: {
    app: string;
    name: string;
    entry: KvEntry | null;
    onDeleted: () => void;
  },
): VNode {
  const [value, setValue] = useState(entry?.value ?? "");
  const [ttl, setTtl] = useState("");
  const [expires, setExpires] = useState(entry?.expires_at ?? null);
  const [status, setStatus] = useState("");
  const save = async () => {
    try {
      const seconds = ttl.trim();
      await api(apiPath`/apps/${app}/kv/${name}`, {
        method: "PUT",
        // No ttl: the key keeps its remaining expiry (a new key gets 30 days).
        json: { value, ...(seconds ? { ttl: Number(seconds) } : {}) },
      });
      setExpires((await api<KvEntry>(apiPath`/apps/${app}/kv/${name}`)).expires_at);
      setStatus("saved");
    } catch (error) {
      setStatus((error as Error).message);
    }
  };
  const remove = async () => {
    if (!confirm(`Delete ${name}?`)) return;
    await api(apiPath`/apps/${app}/kv/${name}`, { method: "DELETE" });
    onDeleted();
  };
  return html`
    <div class="card">
      <h2>${name}</h2>
      <label for="kv-value">Value</label>
      <textarea id="kv-value" name="value" rows="5" value=${value}
        onInput=${(e: Event) => setValue((e.target as HTMLTextAreaElement).value)}></textarea>
      <p class="muted" id="kv-expiry">${expires
        ? `expires ${formatTime(expires, false)} (${fromNow(Date.parse(expires))})`
        : "a new key: kept 30 days after saving unless a TTL is given"}</p>
      <div class="row">
        <label for="kv-ttl">TTL, seconds</label>
        <input id="kv-ttl" name="ttl" inputmode="numeric" value=${ttl}
          placeholder=${entry ? "empty: keep the expiry" : "empty: 30 days"}
          onInput=${(e: Event) => setTtl((e.target as HTMLInputElement).value)} />
        <button type="button" class="primary" id="kv-save" onClick=${save}>Save</button>
        <button type="button" onClick=${remove}>Delete</button>
      </div>
      <p class="muted" role="status">${status}</p>
    </div>
  `;
}

/** The KV tab. */
export function KvPage({ app }: AppContext): VNode {
  const [prefix, setPrefix] = useState("");
  const [keys, setKeys] = useState<string[] | null>(null);
  const [done, setDone] = useState(true);
  const cursor = useRef<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [editing, setEditing] = useState<
    { name: string; entry: KvEntry | null; serial: number } | null
  >(null);
  const [error, setError] = useState<unknown>(null);
  const [newKey, setNewKey] = useState("");

  const load = async (next = false) => {
    if (next && cursor.current === null) return;
    setBusy(true);
    try {
      const q = new URLSearchParams({ prefix, limit: "50" });
      if (next) q.set("cursor", cursor.current!);
      const page = await api<{ keys: string[]; cursor: string | null; done: boolean }>(
        `${apiPath`/apps/${app}/kv`}?${q}`,
      );
      cursor.current = page.done ? null : page.cursor;
      setDone(page.done);
      setKeys((old) => [...(next ? old ?? [] : []), ...page.keys]);
      setError(null);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => void load(), [app]);

  const edit = async (name: string) => {
    if (name === "" || name === "." || name === "..") {
      setError(new Error(`the Studio cannot address the key "${name}"`));
      return;
    }
    try {
      const entry = await api<KvEntry>(apiPath`/apps/${app}/kv/${name}`);
      setEditing({ name, entry, serial: performance.now() });
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 404) {
        setEditing({ name, entry: null, serial: performance.now() });
      } else setError(failure);
    }
  };
  return html`
    <p class="muted small">KV belongs to the app: every environment reads the same keys.</p>
        <div class="row">
      <form class="row" role="search" onSubmit=${(e: Event) => {
        e.preventDefault();
        void load();
      }}>
        <label for="kv-prefix">Prefix</label>
        <input id="kv-prefix" name="prefix" value=${prefix}
          onInput=${(e: Event) => setPrefix((e.target as HTMLInputElement).value)} />
        <button type="submit">Search</button>
      </form>
      <form class="row" onSubmit=${(e: Event) => {
        e.preventDefault();
        void edit(newKey);
      }}>
        <label for="kv-new">New key</label>
        <input id="kv-new" name="new-key" value=${newKey}
          onInput=${(e: Event) => setNewKey((e.target as HTMLInputElement).value)} />
        <button type="submit">New</button>
      </form>
    </div>
        ${error ? html`<${ErrorBox} error=${error} />` : ""}
        ${keys !== null && keys.length === 0
          ? html`
            <${Empty} title=${prefix ? `No keys start with "${prefix}"` : "No keys yet"}>
              <p>Keys appear here once functions write them with <code>ctx.kv.set(key, value)</code>,
                        or once you add one with New key above.</p>
              <//>
          `
          : ""}
        <div class="grid kv">
      <table id="kv-keys">
        <thead>
          <tr>
            <th scope="col">key</th>
          </tr>
        </thead>
        <tbody>${(keys ?? []).map((k) =>
          html`
            <tr key=${k}>
              <td><a href="#" data-key=${k} onClick=${(e: Event) => {
                e.preventDefault();
                void edit(k);
              }}>${k}</a></td>
            </tr>
          `
        )}</tbody>
      </table>
      <div id="kv-editor">${editing
        ? html`
          <${Editor} key=${editing.serial} app=${app} name=${editing.name} entry=${editing.entry}
            onDeleted=${() => {
              setEditing(null);
              void load();
            }} />
        `
        : ""}</div>
    </div>
        <button type="button" id="kv-more" hidden=${done} disabled=${busy}
      onClick=${() => void load(true)}>More</button>
  `;
}

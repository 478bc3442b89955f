/// <reference lib="dom" />
/**
 * The Logs tab: the newest page of the environment's entries, then the live tail, in the log
 * pane; older pages load as the user scrolls to the top (the logs API's bounded, cursor-paged
 * query). Filters (level, function, request id, text) live in the URL and show as chips, each
 * with a way off, and "Back to live" clears them all.
 */
import type { VNode } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, apiPath, followLogs, type LogEntry, type LogPage } from "../api.ts";
import { LogPane } from "../log_pane.ts";
import { hashOf, LEVELS, type LogFilters } from "../routes.ts";
import { Empty, ErrorBox, html } from "../ui.ts";
import type { AppContext } from "./context.ts";
import { appUrl } from "./functions.ts";

/** Entries kept in the page; past it the oldest go (the API still has them). */
const MAX_ENTRIES = 50_000;
/** Entries asked for per page (the API's bound is 1,000). */
const PAGE = 500;

/** The URL parameters of the filters, for the environment. */
function filterParams(env: string, filters: LogFilters): URLSearchParams {
  const q = new URLSearchParams({ environment: env });
  for (const [name, value] of Object.entries(filters)) if (value) q.set(name, value);
  return q;
}

/** The Logs tab. */
export function LogsPage({ app, env, filters, listing }: AppContext): VNode {
  const entries = useRef<LogEntry[]>([]);
  const ids = useRef(new Set<string>());
  const cursor = useRef<string | null>(null);
  const loadingOlder = useRef(false);
  const [version, setVersion] = useState(0);
  const [tail, setTail] = useState<"connecting" | "live" | "closed">("connecting");
  const [error, setError] = useState<unknown>(null);
  const [loaded, setLoaded] = useState(false);
  const [reconnects, setReconnects] = useState(0);
  const key = `${app}|${env}|${JSON.stringify(filters)}`;

  useEffect(() => {
    const abort = new AbortController();
    entries.current = [];
    ids.current = new Set();
    cursor.current = null;
    setLoaded(false);
    setError(null);
    setTail("connecting");
    let frame = 0;
    const bump = () => {
      if (frame) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        setVersion((v) => v + 1);
      });
    };
    const add = (entry: LogEntry) => {
      if (ids.current.has(entry.id)) return;
      ids.current.add(entry.id);
      entries.current.push(entry);
      if (entries.current.length > MAX_ENTRIES) {
        for (const old of entries.current.splice(0, entries.current.length - MAX_ENTRIES)) {
          ids.current.delete(old.id);
        }
      }
      bump();
    };
    const path = `${apiPath`/apps/${app}/logs`}`;
    // Subscribe first, then read the newest page: nothing falls between the two.
    const opened = new Promise<void>((resolve, reject) => {
      followLogs(`${path}/stream?${filterParams(env, filters)}`, abort.signal, add, resolve)
        .then(() => !abort.signal.aborted && setTail("closed"), (failure) => {
          if (abort.signal.aborted) return;
          setTail("closed");
          reject(failure);
        });
    });
    opened.then(async () => {
      setTail("live");
      const q = filterParams(env, filters);
      q.set("limit", String(PAGE));
      const page = await api<LogPage>(`${path}?${q}`, { signal: abort.signal });
      const fresh = page.entries.filter((e) => !ids.current.has(e.id)).reverse();
      for (const e of fresh) ids.current.add(e.id);
      entries.current = [...fresh, ...entries.current];
      cursor.current = page.next_cursor;
      setLoaded(true);
      bump();
    }).catch((failure) => !abort.signal.aborted && setError(failure));
    return () => {
      abort.abort();
      cancelAnimationFrame(frame);
    };
  }, [key, reconnects]);

  const loadOlder = async () => {
    if (loadingOlder.current || cursor.current === null) return;
    loadingOlder.current = true;
    try {
      const q = filterParams(env, filters);
      q.set("limit", String(PAGE));
      q.set("cursor", cursor.current);
      const page = await api<LogPage>(`${apiPath`/apps/${app}/logs`}?${q}`);
      const older = page.entries.filter((e) => !ids.current.has(e.id)).reverse();
      for (const e of older) ids.current.add(e.id);
      entries.current = [...older, ...entries.current];
      cursor.current = page.next_cursor;
      setVersion((v) => v + 1);
    } catch (failure) {
      setError(failure);
    } finally {
      loadingOlder.current = false;
    }
  };

  const go = (next: LogFilters) => location.hash = hashOf(app, "logs", env, next);
  const without = (name: keyof LogFilters) => {
    const next = { ...filters };
    delete next[name];
    go(next);
  };
  const search = (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const value = (form.elements.namedItem("q") as HTMLInputElement).value.trim();
    const next = { ...filters };
    if (value) next.q = value.slice(0, 512);
    else delete next.q;
    go(next);
  };
  const setLevel = (event: Event) => {
    const value = (event.target as HTMLSelectElement).value;
    const next = { ...filters };
    if (value === "debug") delete next.level;
    else next.level = value as typeof LEVELS[number];
    go(next);
  };
  const setFunction = (event: Event) => {
    const value = (event.target as HTMLSelectElement).value;
    const next = { ...filters };
    if (value) next.function = value;
    else delete next.function;
    go(next);
  };
  const files = [
    ...new Set(
      listing.deployments.filter((d) => d.environment === env)
        .flatMap((d) => d.routes.map((r) => r.file)),
    ),
  ].sort();
  const chips = (Object.entries(filters) as Array<[keyof LogFilters, string]>)
    .filter(([, v]) => v);
  const filtered = chips.length > 0;
  return html`<div class="logs-page">
    <div class="toolbar row">
      <form class="row" onSubmit=${search} role="search">
        <label for="log-q" class="visually-hidden">Search the history</label>
        <input id="log-q" name="q" type="search" placeholder="search messages (whole history)"
          value=${filters.q ?? ""} size="32" />
        <button type="submit">Search</button>
      </form>
      <label>Level <select name="level" onChange=${setLevel}>
        ${
    LEVELS.map((l) =>
      html`<option value=${l} selected=${(filters.level ?? "debug") === l}>${
        l === "debug" ? "all" : `${l} and up`
      }</option>`
    )
  }
      </select></label>
      <label>Function <select name="function" onChange=${setFunction}>
        <option value="">all</option>
        ${
    files.map((f) => html`<option value=${f} selected=${filters.function === f}>${f}</option>`)
  }
      </select></label>
      <span class="grow"></span>
      <span class=${`tail-state ${tail}`} id="tail-state">${
    tail === "live" ? "● live" : tail === "connecting" ? "connecting…" : "tail closed"
  }</span>
      ${
    tail === "closed"
      ? html`<button type="button" onClick=${() => setReconnects((n) => n + 1)}>Reconnect</button>`
      : ""
  }
    </div>
    ${
    filtered
      ? html`<div class="chips row" id="filter-chips">
          <span class="muted small">Showing only</span>
          ${
        chips.map(([name, value]) =>
          html`<span class="chip" data-filter=${name}>${
            name.replace("_", " ")
          }: <code>${value}</code>
              <button type="button" aria-label=${`remove the ${name} filter`}
                onClick=${() => without(name)}>×</button></span>`
        )
      }
          <button type="button" id="back-to-live" class="primary" onClick=${() => go({})}>
            Back to live (all lines)</button>
        </div>`
      : ""
  }
    ${error ? html`<${ErrorBox} error=${error} />` : ""}
    ${
    loaded && entries.current.length === 0
      ? html`
        <${Empty} title=${filtered ? "No lines match these filters" : `No log lines in ${env} yet`}
          command=${filtered ? undefined : `curl ${appUrl(app, env)}/functions/…`}>
          <p>${filtered
            ? "Lines that match show here as they arrive; the whole history was searched. " +
              "Remove a filter, or go back to live."
            : "Each request's line, its console output and the platform's notes show here live " +
              "as functions run. Call one:"}</p>
          <//>
      `
      : ""
  }
    <${LogPane} app=${app} env=${env} entries=${entries.current} version=${version}
      onTop=${loadOlder} filters=${filters} />
  </div>`;
}

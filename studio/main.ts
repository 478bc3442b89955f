/// <reference lib="dom" />
/**
 * The Studio's client: a small single-page app over the same `/v1` API, with the API key kept in
 * sessionStorage only. Views by URL hash: `#/apps`, `#/apps/<app>/<tab>`. Built into one script
 * by the server at first request (routes/studio.ts); no framework, no CDN.
 *
 * The hash is written by whoever links or redirects to the Studio, a tenant's page included, so
 * every segment read from it is checked against its rule before use, every value placed in an
 * API path is percent-encoded, and the key is only ever sent to `/v1/` of this page's origin,
 * checked on the resolved URL of each request.
 */
import { APP_ID, DEPLOYMENT_ID, ENVIRONMENT } from "../runtime/ids.ts";

const KEY = "fn-studio-key";
const root = document.getElementById("root")!;

type Json = Record<string, unknown>;

/** The tabs of an app's page, the only values its `<tab>` segment may take. */
const TABS = ["functions", "deployments", "logs", "kv", "variables", "keys", "metrics"] as const;
type Tab = typeof TABS[number];
/** Request ids, as the platform makes them (`newId("req")`). */
const REQUEST_ID = /^req_[0-9a-f]{24}$/;

/**
 * An API path with each interpolated value percent-encoded, so a value is always one path
 * segment (or one query value) whatever it holds. Used as a tag: apiPath`/apps/${app}/kv/${key}`.
 */
function apiPath(strings: TemplateStringsArray, ...values: Array<string | number>): string {
  let out = strings[0] ?? "";
  values.forEach((value, i) => out += encodeURIComponent(String(value)) + (strings[i + 1] ?? ""));
  return out;
}

/** An API error with the HTTP status it came with. */
class ApiError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

/**
 * The one way the key leaves sessionStorage: a request to `/v1<path>` that, once resolved, is
 * still under `/v1/` of this page's own origin (a `..` or a backslash cannot steer it elsewhere);
 * anything else is refused before it is sent. Redirects are refused too.
 */
function fetchWithKey(path: string, init: RequestInit = {}): Promise<Response> {
  const url = new URL(`/v1${path}`, location.origin);
  if (!url.href.startsWith(`${location.origin}/v1/`)) {
    return Promise.reject(
      new ApiError(
        `refused to send the API key to ${url.pathname.slice(0, 200)}: the Studio sends it ` +
          `only to ${location.origin}/v1/`,
        0,
      ),
    );
  }
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${sessionStorage.getItem(KEY) ?? ""}`);
  return fetch(url, { ...init, headers, redirect: "error", credentials: "omit" });
}

function el(tag: string, attrs: Record<string, string> = {}, ...children: Array<Node | string>) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

function button(label: string, onClick: () => void, attrs: Record<string, string> = {}) {
  const b = el("button", attrs, label);
  b.addEventListener("click", onClick);
  return b;
}

/** Calls `/v1<path>` with the signed-in key; throws ApiError with the server's error text. */
async function api<T = Json>(path: string, init: { method?: string; json?: unknown } = {}) {
  const response = await fetchWithKey(path, {
    method: init.method ?? (init.json === undefined ? "GET" : "POST"),
    headers: init.json === undefined ? {} : { "content-type": "application/json" },
    ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
  });
  const text = await response.text();
  const body = text ? JSON.parse(text) : {};
  if (!response.ok) throw new ApiError(body.error ?? `${response.status}`, response.status);
  return body as T;
}

function show(...nodes: Node[]) {
  root.replaceChildren(...nodes);
}

function errorBox(error: unknown) {
  return el("p", { class: "error", role: "alert" }, (error as Error).message);
}

// ---- Sign in ----
function signIn(message = "") {
  const input = el("input", { type: "password", id: "key", placeholder: "API key", size: "50" });
  const form = el(
    "form",
    { id: "sign-in" },
    el("h1", {}, "Sign in"),
    el("p", {}, "An admin key sees every app; a per-app key sees its own."),
    el(
      "div",
      { class: "row" },
      input,
      el("button", { class: "primary", type: "submit" }, "Sign in"),
    ),
    el("p", { class: "error", id: "sign-in-error" }, message),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = (input as HTMLInputElement).value.trim();
    sessionStorage.setItem(KEY, key);
    try {
      await api("/apps?limit=1");
      location.hash = "#/apps";
      route();
    } catch (error) {
      sessionStorage.removeItem(KEY);
      signIn(`That key was refused: ${(error as Error).message}`);
    }
  });
  show(form);
}

// ---- Apps ----
async function appsView() {
  const { apps } = await api<{ apps: Json[] }>("/apps?limit=100");
  const rows = apps.map((app) =>
    el(
      "tr",
      { "data-app": String(app.id) },
      el(
        "td",
        {},
        el("a", { href: `#/apps/${encodeURIComponent(String(app.id))}/functions` }, String(app.id)),
      ),
      el(
        "td",
        {},
        (app.environments as Json[]).map((e) => `${e.name}: ${e.live_deployment}`).join(", "),
      ),
      el("td", {}, String(app.last_deploy_at ?? "")),
      el("td", {}, String(app.requests_last_hour)),
      el("td", {}, String(app.errors_last_hour)),
    )
  );
  show(
    el("h1", {}, "Apps"),
    el(
      "table",
      { id: "apps" },
      el(
        "tr",
        {},
        ...["app", "environments (live deployment)", "last deploy", "requests, 1 h", "errors, 1 h"]
          .map((h) => el("th", {}, h)),
      ),
      ...rows,
    ),
  );
}

// ---- One app ----
/** One app's page; `app`, `tab` and `requestId` have been checked against their rules. */
async function appView(app: string, tab: Tab, requestId = "") {
  const nav = el(
    "nav",
    { class: "tabs" },
    ...TABS.map((t) =>
      el(
        "a",
        { href: `#/apps/${encodeURIComponent(app)}/${t}`, class: t === tab ? "active" : "" },
        t,
      )
    ),
  );
  const body = el("section", { id: `tab-${tab}` });
  show(el("h1", {}, `App ${app}`), nav, body);
  const views: Record<Tab, (app: string, body: HTMLElement) => Promise<void>> = {
    functions: functionsTab,
    deployments: deploymentsTab,
    logs: (app, body) => logsTab(app, body, requestId),
    kv: kvTab,
    variables: variablesTab,
    keys: keysTab,
    metrics: metricsTab,
  };
  try {
    await views[tab](app, body);
  } catch (error) {
    body.append(errorBox(error));
  }
}

/** A page of deployments, each marked `live`/`previous`, with those marks per environment. */
interface DeploymentListing {
  deployments: Json[];
  live: Record<string, string>;
  previous: Record<string, string>;
}

/** The deployment serving `environment` now (by the API's live mark, not the newest), or null. */
async function liveDeployment(app: string, environment = "production"): Promise<Json | null> {
  const { live } = await api<DeploymentListing>(`${apiPath`/apps/${app}/deployments`}?limit=1`);
  const id = live[environment];
  if (!id || !DEPLOYMENT_ID.test(id)) return null;
  return await api<Json>(apiPath`/apps/${app}/deployments/${id}`);
}

async function functionsTab(app: string, body: HTMLElement) {
  const live = await liveDeployment(app);
  if (!live) {
    body.append(el("p", {}, "No live deployment in production."));
    return;
  }
  for (const route of live.routes as Array<{ pattern: string; file: string }>) {
    const method = el(
      "select",
      { name: "method" },
      ...["GET", "POST", "PUT", "DELETE"].map((m) => el("option", {}, m)),
    ) as HTMLSelectElement;
    const path = el("input", {
      name: "path",
      value: route.pattern,
      size: "40",
    }) as HTMLInputElement;
    const query = el("input", { name: "query", placeholder: "a=1&b=2" }) as HTMLInputElement;
    const headers = el("textarea", { name: "headers", placeholder: '{"x-name": "value"}' });
    const requestBody = el("textarea", {
      name: "body",
      placeholder: "request body (JSON or text)",
    });
    const out = el("div", { class: "result" });
    const run = async () => {
      out.replaceChildren(el("p", { class: "muted" }, "running…"));
      const started = performance.now();
      try {
        const extra = (headers as HTMLTextAreaElement).value.trim();
        // No key goes with it: the function is called as any client would call it.
        const response = await fetch(
          `/apps/${encodeURIComponent(app)}${path.value}${query.value ? `?${query.value}` : ""}`,
          {
            method: method.value,
            headers: extra ? JSON.parse(extra) : {},
            ...(method.value === "GET" ? {} : { body: (requestBody as HTMLTextAreaElement).value }),
          },
        );
        const text = await response.text();
        const duration = performance.now() - started;
        const requestId = response.headers.get("x-request-id") ?? "";
        out.replaceChildren(
          el("p", { class: "status" }, `${response.status} in ${duration.toFixed(1)} ms`),
          el(
            "pre",
            { class: "headers" },
            [...response.headers].map(([k, v]) => `${k}: ${v}`).join("\n"),
          ),
          el("pre", { class: "response-body" }, text),
          el("h2", {}, `Logs of ${requestId}`),
          await requestLogs(app, requestId),
        );
      } catch (error) {
        out.replaceChildren(errorBox(error));
      }
    };
    body.append(
      el(
        "div",
        { class: "card try-it", "data-route": route.pattern },
        el("h2", {}, `${route.pattern} `, el("span", { class: "muted" }, route.file)),
        el("div", { class: "row" }, method, path, query, button("Send", run, { class: "primary" })),
        headers,
        requestBody,
        out,
      ),
    );
  }
}

/** A request's log entries, waiting briefly for them to be stored. */
async function requestLogs(app: string, requestId: string): Promise<HTMLElement> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const { entries } = await api<{ entries: Json[] }>(
      apiPath`/apps/${app}/logs?request_id=${requestId}&limit=100`,
    );
    if (entries.some((e) => e.type === "request")) return logList(entries.reverse());
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  return el("p", { class: "muted" }, "no log entries yet");
}

function logLine(entry: Json): HTMLElement {
  const id = String(entry.request_id ?? "");
  const line = el(
    "div",
    { class: `entry ${entry.level}` },
    `${String(entry.time).slice(11, 23)} ${String(entry.level).padEnd(5)} `,
  );
  if (id) {
    const link = el("a", { href: "#", class: "request-id" }, id);
    link.addEventListener("click", (event) => {
      event.preventDefault();
      location.hash = `#/apps/${encodeURIComponent(String(entry.app_id))}/logs?request_id=${
        encodeURIComponent(id)
      }`;
    });
    line.append(link, " ");
  }
  line.append(`${entry.function ?? ""} ${entry.message}`);
  return line;
}

function logList(entries: Json[]): HTMLElement {
  return el("div", { class: "log" }, ...entries.map(logLine));
}

async function deploymentsTab(app: string, body: HTMLElement) {
  const { deployments, live } = await api<DeploymentListing>(
    `${apiPath`/apps/${app}/deployments`}?limit=100`,
  );
  const detail = el("div", { id: "deployment-detail" });
  const pick = (name: string) =>
    el(
      "select",
      { name },
      ...deployments.map((d) => el("option", { value: String(d.id) }, String(d.id))),
    );
  const left = pick("left") as HTMLSelectElement;
  const right = pick("right") as HTMLSelectElement;
  if (deployments.length > 1) right.selectedIndex = 1;
  /** Makes `d` live in its environment, after a confirmation. */
  const makeLive = (d: Json, verb: string) => async () => {
    const id = String(d.id), environment = String(d.environment);
    if (!DEPLOYMENT_ID.test(id) || !ENVIRONMENT.test(environment)) return;
    if (!confirm(`${verb}: make ${id} live again in ${environment}?`)) return;
    try {
      await api(apiPath`/apps/${app}/environments/${environment}/rollback`, {
        json: { deployment_id: id },
      });
      await appView(app, "deployments");
    } catch (error) {
      detail.replaceChildren(errorBox(error));
    }
  };
  const table = el(
    "table",
    { id: "deployments" },
    el(
      "tr",
      {},
      ...["id", "environment", "message", "source", "deployed by", "time", "routes", ""].map((h) =>
        el("th", {}, h)
      ),
    ),
    ...deployments.map((d) => {
      const liveId = live[String(d.environment)] ?? "";
      // Ids sort by creation time: a deployment newer than the live one is a roll forward.
      const verb = String(d.id) > liveId ? "Roll forward" : "Roll back";
      return el(
        "tr",
        {
          "data-deployment": String(d.id),
          ...(d.live ? { "data-live": "" } : {}),
          ...(d.previous ? { "data-previous": "" } : {}),
        },
        el(
          "td",
          {},
          String(d.id),
          d.live ? el("span", { class: "mark live" }, "live") : "",
          d.previous ? el("span", { class: "mark previous" }, "previous") : "",
        ),
        el("td", {}, String(d.environment)),
        el("td", {}, String(d.message ?? "")),
        el("td", {}, String(d.source ?? "")),
        el("td", {}, String(d.deployed_by)),
        el("td", {}, String(d.created_at)),
        el("td", {}, (d.routes as Json[]).map((r) => r.pattern).join(" ")),
        el(
          "td",
          {},
          button("Files", () => void files(app, String(d.id), detail)),
          " ",
          d.live ? "" : button(verb, makeLive(d, verb), { class: "rollback" }),
        ),
      );
    }),
  );
  body.append(
    table,
    el(
      "div",
      { class: "row" },
      "Diff ",
      left,
      " → ",
      right,
      button("Diff", () => void diff(app, left.value, right.value, detail)),
    ),
    detail,
  );
}

async function files(app: string, id: string, into: HTMLElement) {
  const deployment = await api<{ source_files: Record<string, string> }>(
    apiPath`/apps/${app}/deployments/${id}`,
  );
  into.replaceChildren(
    el("h2", {}, `Files of ${id}`),
    ...Object.entries(deployment.source_files).flatMap(([path, text]) => [
      el("h3", {}, path),
      el("pre", {}, text),
    ]),
  );
}

async function diff(app: string, a: string, b: string, into: HTMLElement) {
  const read = (id: string) =>
    api<{ source_files: Record<string, string> }>(apiPath`/apps/${app}/deployments/${id}`);
  const [left, right] = await Promise.all([read(a), read(b)]);
  const paths = [
    ...new Set([...Object.keys(left.source_files), ...Object.keys(right.source_files)]),
  ]
    .sort();
  into.replaceChildren(el("h2", {}, `Diff ${a} → ${b}`));
  for (const path of paths) {
    const before = (left.source_files[path] ?? "").split("\n");
    const after = (right.source_files[path] ?? "").split("\n");
    if (before.join("\n") === after.join("\n")) continue;
    const pre = el("pre", { class: "diff" });
    for (const line of lineDiff(before, after)) {
      pre.append(
        line.kind === "same" ? el("span", {}, `  ${line.text}\n`) : el(
          line.kind === "add" ? "ins" : "del",
          {},
          `${line.kind === "add" ? "+" : "-"} ${line.text}`,
        ),
      );
    }
    into.append(el("h3", {}, path), pre);
  }
}

/** A line diff by longest common subsequence (files are small). */
function lineDiff(a: string[], b: string[]) {
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

let tail: AbortController | null = null;

function logsTab(app: string, body: HTMLElement, requestId = ""): Promise<void> {
  const level = el(
    "select",
    { name: "level" },
    ...["debug", "info", "warn", "error"].map((l) => el("option", {}, l)),
  ) as HTMLSelectElement;
  const fn = el("input", { name: "function", placeholder: "api/x.ts" }) as HTMLInputElement;
  const text = el("input", { name: "q", placeholder: "text" }) as HTMLInputElement;
  const list = el("div", { class: "log", id: "live-tail" });
  let paused = false;
  let oldest: string | null = null;
  const filters = () => {
    const q = new URLSearchParams({ level: level.value });
    if (fn.value) q.set("function", fn.value);
    if (text.value) q.set("q", text.value);
    if (requestId) q.set("request_id", requestId);
    return q;
  };
  const loadOlder = async () => {
    const q = filters();
    q.set("limit", "100");
    if (oldest) q.set("cursor", oldest);
    const page = await api<{ entries: Json[]; next_cursor: string | null }>(
      `${apiPath`/apps/${app}/logs`}?${q}`,
    );
    oldest = page.next_cursor;
    for (const entry of page.entries) list.prepend(logLine(entry));
  };
  const follow = async () => {
    tail?.abort();
    tail = new AbortController();
    list.replaceChildren();
    oldest = null;
    await loadOlder();
    const response = await fetchWithKey(`${apiPath`/apps/${app}/logs/stream`}?${filters()}`, {
      signal: tail.signal,
    });
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    while (true) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: "" }));
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event.split("\n").find((l) => l.startsWith("data: "));
        if (event.includes("event: log") && data && !paused) {
          list.append(logLine(JSON.parse(data.slice(6))));
        }
      }
    }
  };
  const pause = button("Pause", () => {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
  }, { id: "pause" });
  body.append(
    el(
      "div",
      { class: "row" },
      "level ≥",
      level,
      fn,
      text,
      button("Apply", () => void follow()),
      pause,
      button("Load older", () => void loadOlder()),
    ),
    requestId ? el("p", {}, `Entries of request ${requestId}`) : "",
    list,
  );
  void follow();
  return Promise.resolve();
}

/** "in 3 d 4 h", "in 12 min": how far `at` (ms since the epoch) is from now. */
function fromNow(at: number): string {
  const minutes = Math.max(0, Math.round((at - Date.now()) / 60_000));
  if (minutes < 60) return `in ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return hours < 48
    ? `in ${hours} h ${minutes % 60} min`
    : `in ${Math.floor(hours / 24)} d ${hours % 24} h`;
}

async function kvTab(app: string, body: HTMLElement) {
  const prefix = el("input", { name: "prefix", placeholder: "prefix" }) as HTMLInputElement;
  const header = el("tr", {}, el("th", {}, "key"));
  const list = el("table", { id: "kv-keys" }, header);
  const editor = el("div", { id: "kv-editor" });
  /** Where the next page starts; null before the first page and once the listing is done. */
  let cursor: string | null = null;
  const more = button("More", () => void load(true), { id: "kv-more" }) as HTMLButtonElement;
  more.hidden = true;
  const load = async (next = false) => {
    if (next && cursor === null) return;
    more.disabled = true;
    try {
      const q = new URLSearchParams({ prefix: prefix.value, limit: "50" });
      if (next) q.set("cursor", cursor!);
      const page = await api<{ keys: string[]; cursor: string | null; done: boolean }>(
        `${apiPath`/apps/${app}/kv`}?${q}`,
      );
      if (!next) list.replaceChildren(header);
      cursor = page.done ? null : page.cursor;
      more.hidden = cursor === null;
      for (const key of page.keys) {
        const link = el("a", { href: "#", "data-key": key }, key);
        link.addEventListener("click", (event) => {
          event.preventDefault();
          void edit(key);
        });
        list.append(el("tr", {}, el("td", {}, link)));
      }
    } finally {
      more.disabled = false;
    }
  };
  const edit = async (key: string) => {
    if (key === "" || key === "." || key === "..") {
      editor.replaceChildren(errorBox(new Error(`the Studio cannot address the key "${key}"`)));
      return;
    }
    let entry: { value: string; expires_at: string } | null = null;
    try {
      entry = await api<{ value: string; expires_at: string }>(apiPath`/apps/${app}/kv/${key}`);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) {
        editor.replaceChildren(errorBox(error));
        return;
      }
    }
    const text = el("textarea", { name: "value" }, entry?.value ?? "") as HTMLTextAreaElement;
    const ttl = el("input", {
      name: "ttl",
      inputmode: "numeric",
      placeholder: entry ? "new TTL, seconds (empty: keep expiry)" : "TTL, seconds (default 30 d)",
    }) as HTMLInputElement;
    const expiry = el("p", { class: "muted", id: "kv-expiry" });
    const showExpiry = (at: string | null) => {
      expiry.textContent = at
        ? `expires ${at} (${fromNow(Date.parse(at))})`
        : "a new key: kept 30 days after saving unless a TTL is given";
    };
    showExpiry(entry?.expires_at ?? null);
    const status = el("p", { class: "muted" });
    editor.replaceChildren(
      el("h2", {}, key),
      text,
      expiry,
      el(
        "div",
        { class: "row" },
        ttl,
        button("Save", async () => {
          try {
            const seconds = ttl.value.trim();
            await api(apiPath`/apps/${app}/kv/${key}`, {
              method: "PUT",
              // No ttl: the key keeps its remaining expiry (a new key gets 30 days).
              json: { value: text.value, ...(seconds ? { ttl: Number(seconds) } : {}) },
            });
            const saved = await api<{ expires_at: string }>(apiPath`/apps/${app}/kv/${key}`);
            showExpiry(saved.expires_at);
            status.textContent = "saved";
          } catch (error) {
            status.textContent = (error as Error).message;
          }
        }, { class: "primary", id: "kv-save" }),
        button("Delete", async () => {
          if (!confirm(`Delete ${key}?`)) return;
          await api(apiPath`/apps/${app}/kv/${key}`, { method: "DELETE" });
          editor.replaceChildren();
          await load();
        }),
      ),
      status,
    );
  };
  const newKey = el("input", { name: "new-key", placeholder: "new key" }) as HTMLInputElement;
  body.append(
    el(
      "div",
      { class: "row" },
      prefix,
      button("Search", () => void load()),
      newKey,
      button("New", () => void edit(newKey.value)),
    ),
    list,
    more,
    editor,
  );
  await load();
}

async function variablesTab(app: string, body: HTMLElement) {
  const env = "production";
  const { vars } = await api<{ vars: Json[] }>(apiPath`/apps/${app}/environments/${env}/vars`);
  const name = el("input", { name: "name", placeholder: "NAME" }) as HTMLInputElement;
  const value = el("input", {
    name: "value",
    type: "password",
    placeholder: "value",
  }) as HTMLInputElement;
  body.append(
    el(
      "table",
      { id: "vars" },
      el(
        "tr",
        {},
        el("th", {}, "name"),
        el("th", {}, "value"),
        el("th", {}, "updated"),
        el("th", {}, ""),
      ),
      ...vars.map((v) =>
        el(
          "tr",
          {},
          el("td", {}, String(v.name)),
          el("td", {}, String(v.preview)),
          el("td", {}, String(v.updated_at)),
          el(
            "td",
            {},
            button("Delete", async () => {
              await api(apiPath`/apps/${app}/environments/${env}/vars/${String(v.name)}`, {
                method: "DELETE",
              });
              await appView(app, "variables");
            }),
          ),
        )
      ),
    ),
    el(
      "div",
      { class: "row" },
      name,
      value,
      button("Set", async () => {
        await api(apiPath`/apps/${app}/environments/${env}/vars/${name.value}`, {
          method: "PUT",
          json: { value: value.value },
        });
        await appView(app, "variables");
      }, { class: "primary" }),
    ),
  );
}

async function keysTab(app: string, body: HTMLElement) {
  const { keys } = await api<{ keys: Json[] }>(apiPath`/apps/${app}/keys`);
  const created = el("pre", { id: "new-key" });
  body.append(
    button("Create a key", async () => {
      const key = await api<Json>(apiPath`/apps/${app}/keys`, { method: "POST" });
      created.textContent = `${key.key}\n(shown once: store it now)`;
    }, { class: "primary" }),
    created,
    el(
      "table",
      {},
      ...keys.map((k) =>
        el(
          "tr",
          {},
          el("td", {}, String(k.id)),
          el("td", {}, String(k.created_at)),
          el(
            "td",
            {},
            button("Revoke", async () => {
              if (!confirm(`Revoke ${k.id}?`)) return;
              await api(apiPath`/apps/${app}/keys/${String(k.id)}`, { method: "DELETE" });
              await appView(app, "keys");
            }),
          ),
        )
      ),
    ),
  );
}

/** A line chart of `series` (one colour each) over the minutes, as SVG. */
function chart(title: string, minutes: string[], series: Array<[string, Array<number | null>]>) {
  const width = 560, height = 160, pad = 30;
  const max = Math.max(1, ...series.flatMap(([, values]) => values.map((v) => v ?? 0)));
  const x = (i: number) => pad + (i / Math.max(1, minutes.length - 1)) * (width - 2 * pad);
  const y = (v: number) => height - pad - (v / max) * (height - 2 * pad);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "chart");
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  const colours = ["#2456d3", "#b00020", "#9a6700"];
  series.forEach(([name, values], n) => {
    const points = values.map((v, i) => `${x(i)},${y(v ?? 0)}`).join(" ");
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("points", points);
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", colours[n % colours.length]!);
    svg.append(line);
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", String(pad + n * 120));
    label.setAttribute("y", "14");
    label.setAttribute("fill", colours[n % colours.length]!);
    label.textContent = name;
    svg.append(label);
  });
  const top = document.createElementNS(ns, "text");
  top.setAttribute("x", "2");
  top.setAttribute("y", String(pad));
  top.textContent = String(Math.round(max));
  svg.append(top);
  return el("div", { class: "card" }, el("h2", {}, title), svg);
}

async function metricsTab(app: string, body: HTMLElement) {
  const window = el(
    "select",
    { name: "window" },
    el("option", { value: "60" }, "last hour"),
    el("option", { value: "1440" }, "last day"),
  ) as HTMLSelectElement;
  const charts = el("div", { id: "charts" });
  const draw = async () => {
    const data = await api<{ app: Json[]; functions: Record<string, Json[]> }>(
      apiPath`/apps/${app}/metrics?minutes=${window.value}`,
    );
    const render = (name: string, points: Json[]) => [
      chart(`${name}: requests and errors`, points.map((p) => String(p.minute)), [
        ["requests", points.map((p) => Number(p.requests))],
        ["errors", points.map((p) => Number(p.errors))],
      ]),
      chart(`${name}: latency p50 / p99 (ms)`, points.map((p) => String(p.minute)), [
        ["p50", points.map((p) => p.p50_ms as number | null)],
        ["p99", points.map((p) => p.p99_ms as number | null)],
      ]),
    ];
    charts.replaceChildren(
      ...render("app", data.app),
      ...Object.entries(data.functions).flatMap(([file, points]) => render(file, points)),
    );
  };
  window.addEventListener("change", () => void draw());
  body.append(el("div", { class: "row" }, "window", window), charts);
  await draw();
}

// ---- Routing ----
/** What the hash asks for, each segment checked against its rule; `error` says which was not. */
type View =
  | { kind: "apps" }
  | { kind: "app"; app: string; tab: Tab; requestId: string }
  | { kind: "refused"; error: string };

function parseHash(hash: string): View {
  const [path = "", search = ""] = hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean);
  if (parts[0] !== "apps" || parts.length < 2) return { kind: "apps" };
  const [, app = "", tab = "functions", ...rest] = parts;
  const quoted = (text: string) => JSON.stringify(text.slice(0, 80));
  if (!APP_ID.test(app)) {
    return {
      kind: "refused",
      error: `${quoted(app)} is not an app id (1-62 lower-case letters, digits and single hyphens)`,
    };
  }
  if (!(TABS as readonly string[]).includes(tab) || rest.length > 0) {
    return { kind: "refused", error: `${quoted(parts.slice(2).join("/"))} is not a tab of an app` };
  }
  const requestId = new URLSearchParams(search).get("request_id") ?? "";
  if (requestId && !REQUEST_ID.test(requestId)) {
    return { kind: "refused", error: `${quoted(requestId)} is not a request id` };
  }
  return { kind: "app", app, tab: tab as Tab, requestId };
}

async function route() {
  tail?.abort();
  if (!sessionStorage.getItem(KEY)) return signIn();
  const view = parseHash(location.hash);
  try {
    if (view.kind === "refused") {
      show(
        el(
          "p",
          { class: "error", role: "alert", id: "route-error" },
          `Not a Studio page: ${view.error}.`,
        ),
        el("p", {}, el("a", { href: "#/apps" }, "Back to the apps")),
      );
    } else if (view.kind === "app") await appView(view.app, view.tab, view.requestId);
    else await appsView();
  } catch (error) {
    if (/invalid API key|401/.test((error as Error).message)) {
      sessionStorage.removeItem(KEY);
      return signIn("Your key was refused; sign in again.");
    }
    show(errorBox(error));
  }
}

document.getElementById("sign-out")?.addEventListener("click", () => {
  sessionStorage.removeItem(KEY);
  location.hash = "";
  signIn();
});
addEventListener("hashchange", () => void route());
void route();

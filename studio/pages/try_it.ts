/// <reference lib="dom" />
/**
 * Try it: calls one route as any client would (no key goes with it), with its path parameters
 * as fields, every method, labelled headers and body; shows the status, the time, the headers
 * (wrapped), the body (JSON pretty-printed), the curl command, and the request's log entries.
 */
import type { VNode } from "preact";
import { useState } from "preact/hooks";
import { api, apiPath, type LogEntry } from "../api.ts";
import { hashOf } from "../routes.ts";
import { ErrorBox, formatTime, html, Snippet, statusClass } from "../ui.ts";

/** Every method a function may answer. */
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] as const;

/** One segment of a route pattern: text, a parameter, or a catch-all (optional or not). */
type Segment =
  | { kind: "text"; text: string }
  | { kind: "param" | "rest" | "optional-rest"; name: string };

/** The segments of `/functions/users/[id]`, `/functions/files/[...path]`, `[[...rest]]`. */
export function segments(pattern: string): Segment[] {
  return pattern.split("/").filter(Boolean).map((part): Segment => {
    let m = /^\[\[\.\.\.([^\]]+)\]\]$/.exec(part);
    if (m) return { kind: "optional-rest", name: m[1]! };
    m = /^\[\.\.\.([^\]]+)\]$/.exec(part);
    if (m) return { kind: "rest", name: m[1]! };
    m = /^\[([^\]]+)\]$/.exec(part);
    if (m) return { kind: "param", name: m[1]! };
    return { kind: "text", text: part };
  });
}

/**
 * The path of a pattern with its parameters filled in, each value percent-encoded (a catch-all's
 * value keeps its slashes); null while a required parameter is empty.
 */
export function fillPath(pattern: string, values: Record<string, string>): string | null {
  const out: string[] = [];
  for (const segment of segments(pattern)) {
    if (segment.kind === "text") {
      out.push(segment.text);
      continue;
    }
    const value = (values[segment.name] ?? "").trim();
    if (!value) {
      if (segment.kind === "optional-rest") continue;
      return null;
    }
    out.push(
      segment.kind === "param"
        ? encodeURIComponent(value)
        : value.split("/").filter(Boolean).map(encodeURIComponent).join("/"),
    );
  }
  return `/${out.join("/")}`;
}

/** Headers typed one per line as `Name: value`; throws naming the line that is not. */
function parseHeaders(text: string): Array<[string, string]> {
  return text.split("\n").map((l) => l.trim()).filter(Boolean).map((line, i) => {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`header line ${i + 1} is not "Name: value": ${line}`);
    return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
  });
}

/** A body for reading: JSON pretty-printed, anything else as it came. */
function pretty(text: string, contentType: string): string {
  if (!/json/i.test(contentType) && !/^\s*[[{]/.test(text)) return text;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** A shell word, quoted for sh. */
function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'"'"'`)}'`;
}

interface Answer {
  status: number;
  /** The answer was a redirect, which a page's fetch sees only as that (no status, no Location). */
  redirect: boolean;
  ms: number;
  headers: Array<[string, string]>;
  body: string;
  requestId: string;
  logs: LogEntry[] | null;
}

/** A request's log entries, waiting briefly for its request entry to be stored. */
async function requestLogs(app: string, requestId: string): Promise<LogEntry[] | null> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const { entries } = await api<{ entries: LogEntry[] }>(
      apiPath`/apps/${app}/logs?request_id=${requestId}&limit=${100}`,
    );
    if (entries.some((e) => e.type === "request")) return entries.reverse();
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  return null;
}

/** The try-it panel of one route. */
export function TryIt(
  { app, env, pattern, origin }: { app: string; env: string; pattern: string; origin: string },
): VNode {
  const params = segments(pattern).filter((s) => s.kind !== "text") as Array<
    { kind: "param" | "rest" | "optional-rest"; name: string }
  >;
  const [method, setMethod] = useState<string>("GET");
  const [values, setValues] = useState<Record<string, string>>({});
  const [query, setQuery] = useState("");
  const [headers, setHeaders] = useState("");
  const [body, setBody] = useState("");
  const [answer, setAnswer] = useState<Answer | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const path = fillPath(pattern, values);
  const search = query.trim().replace(/^\?/, "");
  const withBody = method !== "GET" && method !== "HEAD";
  const publicUrl = path === null ? null : `${origin}${path}${search ? `?${search}` : ""}`;
  let curl = "";
  try {
    curl = publicUrl === null ? "" : [
      "curl -i",
      method === "GET" ? "" : method === "HEAD" ? "--head" : `-X ${method}`,
      ...parseHeaders(headers).map(([k, v]) => `-H ${shellQuote(`${k}: ${v}`)}`),
      withBody && body ? `--data-binary ${shellQuote(body)}` : "",
      shellQuote(publicUrl),
    ].filter(Boolean).join(" ");
  } catch {
    curl = "";
  }
  const id = (name: string) => `try-${pattern.replace(/[^a-z0-9]+/gi, "-")}-${name}`;

  const send = async (event: Event) => {
    event.preventDefault();
    if (path === null) return;
    setBusy(true);
    setError(null);
    const started = performance.now();
    try {
      const base = env === "production"
        ? `/apps/${encodeURIComponent(app)}`
        : `/apps/${encodeURIComponent(app)}/env/${encodeURIComponent(env)}`;
      // No key goes with it: the function is called as any client would call it.
      const response = await fetch(`${base}${path}${search ? `?${search}` : ""}`, {
        method,
        headers: parseHeaders(headers),
        credentials: "omit",
        redirect: "manual",
        ...(withBody ? { body } : {}),
      });
      const text = await response.text();
      const ms = performance.now() - started;
      const requestId = response.headers.get("x-request-id") ?? "";
      const redirect = response.type === "opaqueredirect";
      const shown: Answer = {
        status: response.status,
        redirect,
        ms,
        headers: [...response.headers],
        body: pretty(text, response.headers.get("content-type") ?? ""),
        requestId,
        // A redirect's headers (its request id among them) are hidden from the page.
        logs: redirect ? [] : null,
      };
      setAnswer(shown);
      if (requestId) setAnswer({ ...shown, logs: await requestLogs(app, requestId) ?? [] });
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  return html`<form class="try-it" data-route=${pattern} onSubmit=${send}>
    <div class="try-grid">
      <label for=${id("method")}>Method</label>
      <select id=${id("method")} name="method" value=${method}
        onChange=${(e: Event) => setMethod((e.target as HTMLSelectElement).value)}>
        ${METHODS.map((m) => html`<option selected=${m === method}>${m}</option>`)}
      </select>
      ${
    params.map((p) =>
      html`
        <label for=${id(`param-${p.name}`)}>${p.name}${p.kind === "param"
          ? ""
          : p.kind === "rest"
          ? " (path, a/b)"
          : " (optional path)"}</label>
        <input id=${id(`param-${p.name}`)} name=${`param-${p.name}`} data-param=${p.name}
          required=${p.kind !== "optional-rest"} placeholder=${p.kind === "param" ? "value" : "a/b"}
          value=${values[p.name] ?? ""}
          onInput=${(e: Event) =>
            setValues({ ...values, [p.name]: (e.target as HTMLInputElement).value })} />
      `
    )
  }
      <label for=${id("query")}>Query string</label>
      <input id=${id("query")} name="query" placeholder="a=1&b=2" value=${query}
        onInput=${(e: Event) => setQuery((e.target as HTMLInputElement).value)} />
      <label for=${
    id("headers")
  }>Headers <span class="muted small">one per line, Name: value</span></label>
      <textarea id=${
    id("headers")
  } name="headers" rows="2" placeholder="content-type: application/json"
        value=${headers} onInput=${(e: Event) =>
    setHeaders((e.target as HTMLTextAreaElement).value)}></textarea>
      <label for=${id("body")}>Body ${
    withBody ? "" : html`<span class="muted small">(none with ${method})</span>`
  }</label>
      <textarea id=${id("body")} name="body" rows="3" disabled=${!withBody}
        placeholder='{"name": "value"}' value=${body}
        onInput=${(e: Event) => setBody((e.target as HTMLTextAreaElement).value)}></textarea>
    </div>
    <div class="row">
      <button class="primary" type="submit" disabled=${busy || path === null}>Send</button>
      <span class="muted small">${
    path === null ? "fill in the path parameters" : `${method} ${path}`
  }</span>
    </div>
    ${curl ? html`<${Snippet} text=${curl} />` : ""}
    <p class="muted small">Send calls the function through the platform's host
      (<code>/apps/${app}/functions/…</code>), where responses may not set cookies and pages are
      sandboxed; the curl command calls the app's own host, as browsers of your users will.</p>
    ${error ? html`<${ErrorBox} error=${error} />` : ""}
    ${answer ? html`<${AnswerView} answer=${answer} app=${app} env=${env} />` : ""}
  </form>`;
}

function AnswerView({ answer, app, env }: { answer: Answer; app: string; env: string }): VNode {
  return html`<div class="result">
    <p class="status"><span class=${`status-badge ${
    statusClass(answer.redirect ? 300 : answer.status)
  }`}>${answer.redirect ? "3xx redirect" : answer.status}</span>
      in ${answer.ms.toFixed(1)} ms ${
    answer.requestId
      ? html`· <a href=${
        hashOf(app, "logs", env, { request_id: answer.requestId })
      }>${answer.requestId}</a>`
      : ""
  }</p>
    <table class="headers"><tbody>${
    answer.headers.map(([k, v]) =>
      html`
        <tr>
          <th scope="row">${k}</th>
          <td>${v}</td>
        </tr>
      `
    )
  }</tbody></table>
    ${
    answer.redirect
      ? html`<p class="muted">The function answered with a redirect. A page's fetch is not told its
          status or Location: curl shows them.</p>`
      : html`<pre class="response-body">${
        answer.body || html`<span class="muted">(empty body)</span>`
      }</pre>`
  }
    <h4>Log entries of this request</h4>
    ${
    answer.redirect
      ? html`<p class="muted">A redirect's request id is hidden from the page too: see the app's
          Logs tab.</p>`
      : answer.logs === null
      ? html`<p class="muted">waiting for the log entries…</p>`
      : answer.logs.length === 0
      ? html`<p class="muted">no log entries yet</p>`
      : html`<div class="log">${
        answer.logs.map((e) =>
          html`
            <div class=${`entry ${e.level}`}
              key=${e.id}><span class="muted">${formatTime(e.time)}</span> ${e.level} ${e
                .message}</div>
          `
        )
      }</div>`
  }
  </div>`;
}

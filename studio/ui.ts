/// <reference lib="dom" />
/**
 * Shared pieces of the Studio's pages: the `html` template tag (htm over Preact), times with
 * their date and zone, status colours, empty states, copy buttons, error boxes and figures.
 */
import type { ComponentChildren, VNode } from "preact";
import { useState } from "preact/hooks";
import { html } from "htm/preact";

export { html };

const dateTime = new Intl.DateTimeFormat("en-CA", {
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
  timeZoneName: "short",
});

/** `2026-12-01 09:49:28.123 UTC`: a time with its date, milliseconds and the viewer's zone. */
export function formatTime(iso: string, withMs = true): string {
  const time = new Date(iso);
  if (Number.isNaN(time.getTime())) return iso;
  const parts = Object.fromEntries(dateTime.formatToParts(time).map((p) => [p.type, p.value]));
  const ms = withMs ? `.${String(time.getMilliseconds()).padStart(3, "0")}` : "";
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:` +
    `${parts.second}${ms} ${parts.timeZoneName}`;
}

/** "3 min ago", "2 h ago", "4 d ago": how long ago `iso` was. */
export function ago(iso: string): string {
  const minutes = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 60_000));
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours} h ago` : `${Math.floor(hours / 24)} d ago`;
}

/** The CSS class of an HTTP status: `s2` … `s5`. */
export function statusClass(status: number | undefined): string {
  return status === undefined ? "" : `s${Math.floor(status / 100)}`;
}

/** A count for people: 1,234. */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** A latency for people: 0.25 ms, 12 ms, 1.5 s; "–" for none. */
export function millis(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "–";
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 10_000 ? 0 : 1)} s`;
  return `${ms < 10 ? Number(ms.toFixed(2)) : Math.round(ms)} ms`;
}

/** An error as a page shows it. */
export function ErrorBox({ error }: { error: unknown }): VNode {
  return html`<p class="error" role="alert">${(error as Error).message ?? String(error)}</p>`;
}

/** Copies `text` to the clipboard; says so for a moment. */
export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }): VNode {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone(true);
      setTimeout(() => setDone(false), 1500);
    } catch {
      // No clipboard (an insecure origin): the text is selectable beside the button.
      setDone(false);
    }
  };
  return html`<button type="button" class="copy" onClick=${copy} aria-label=${`${label}: ${text}`}>
    ${done ? "Copied" : label}
  </button>`;
}

/** A command or snippet in a box, with a copy button. */
export function Snippet({ text }: { text: string }): VNode {
  return html`
    <div class="snippet">
      <pre><code>${text}</code></pre>
      <${CopyButton} text=${text} />
    </div>
  `;
}

/**
 * What an empty page will show, and the one command or click that fills it: `title` says what
 * is missing, the children what would appear and how.
 */
export function Empty(
  { title, command, children }: { title: string; command?: string; children?: ComponentChildren },
): VNode {
  return html`<div class="empty" role="status">
    <h2>${title}</h2>
    ${children}
    ${command ? html`<${Snippet} text=${command} />` : ""}
  </div>`;
}

/** One figure with its label, and an optional note or chart. */
export function Figure(
  { label, value, note, children }: {
    label: string;
    value: string;
    note?: string;
    children?: ComponentChildren;
  },
): VNode {
  return html`<div class="figure">
    <div class="label">${label}</div>
    <div class="value">${value}</div>
    ${note ? html`<div class="muted small">${note}</div>` : ""}
    ${children}
  </div>`;
}

/** "Loading…", for a page waiting on the API. */
export function Loading(): VNode {
  return html`<p class="muted" aria-busy="true">Loading…</p>`;
}

/// <reference lib="dom" />
/**
 * The log pane: a fixed-height scrolling table of entries (time with date and zone, level,
 * function, request id, status coloured, message), virtualised: only the rows in view (and a
 * few around them) are in the page, whatever the number of entries, so a jump to the newest of
 * tens of thousands of lines costs one render. It follows the bottom while the user is there,
 * and stops following when they scroll up; multi-line messages (stacks) are folded to their
 * first line and unfold in the detail box below the pane.
 */
import type { VNode } from "preact";
import { useLayoutEffect, useRef, useState } from "preact/hooks";
import type { LogEntry } from "./api.ts";
import { hashOf, type LogFilters } from "./routes.ts";
import { formatTime, html, statusClass } from "./ui.ts";

/** Height of a row, in CSS pixels (the stylesheet's `.log-row` says the same). */
export const ROW_PX = 24;
/** Rows rendered above and below those in view. */
const OVERSCAN = 15;
/** Within this many pixels of the bottom counts as at the bottom (following). */
const BOTTOM_SLACK = ROW_PX;

/** What the pane shows, and what it tells its page. */
export interface LogPaneProps {
  app: string;
  env: string;
  /** Oldest first; the page appends and prepends, then bumps `version`. */
  entries: LogEntry[];
  /** Changes whenever `entries` changed. */
  version: number;
  /** Called when the user reaches the top: the page may load older entries. */
  onTop: () => void;
  /** Filters kept when a request id is clicked. */
  filters: LogFilters;
}

/** The log pane. */
export function LogPane(props: LogPaneProps): VNode {
  const pane = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewHeight, setViewHeight] = useState(480);
  const [following, setFollowing] = useState(true);
  const [selected, setSelected] = useState<LogEntry | null>(null);
  /** Entries when the user stopped following: the newer ones are counted as unseen. */
  const seenCount = useRef(props.entries.length);
  const previousFirst = useRef<string | undefined>(props.entries[0]?.id);
  const previousLength = useRef(props.entries.length);
  const { entries } = props;
  const total = entries.length * ROW_PX;

  useLayoutEffect(() => {
    const el = pane.current;
    if (!el) return;
    // Entries prepended above the view: keep what the user looks at in place.
    const first = entries[0]?.id;
    if (first !== previousFirst.current && previousFirst.current !== undefined) {
      const index = entries.findIndex((e) => e.id === previousFirst.current);
      if (index > 0 && !following) el.scrollTop += index * ROW_PX;
    }
    previousFirst.current = first;
    previousLength.current = entries.length;
    if (following) {
      el.scrollTop = el.scrollHeight;
      seenCount.current = entries.length;
    }
    setScrollTop(el.scrollTop);
    setViewHeight(el.clientHeight);
  }, [props.version, following]);

  const onScroll = () => {
    const el = pane.current!;
    setScrollTop(el.scrollTop);
    setViewHeight(el.clientHeight);
    const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - BOTTOM_SLACK;
    if (atBottom !== following) {
      setFollowing(atBottom);
      if (!atBottom) seenCount.current = entries.length;
    }
    if (el.scrollTop < ROW_PX * 3) props.onTop();
  };
  const jump = () => {
    const el = pane.current!;
    el.scrollTop = el.scrollHeight;
    setFollowing(true);
  };

  const first = Math.max(0, Math.floor(scrollTop / ROW_PX) - OVERSCAN);
  const last = Math.min(entries.length, Math.ceil((scrollTop + viewHeight) / ROW_PX) + OVERSCAN);
  const rows: VNode[] = [];
  for (let i = first; i < last; i++) {
    rows.push(html`
      <${Row} key=${entries[i]!.id} entry=${entries[i]} top=${i * ROW_PX}
        app=${props.app} env=${props.env} filters=${props.filters}
        selected=${selected?.id === entries[i]!.id} onSelect=${setSelected} />
    `);
  }
  const unseen = following ? 0 : Math.max(0, entries.length - seenCount.current);
  return html`<div class="log-pane-wrap">
    <div class="log-head" aria-hidden="true">
      <span>time</span><span>level</span><span>function</span><span>request</span>
      <span>status</span><span>message</span>
    </div>
    <div class="log-pane" id="log-pane" ref=${pane} onScroll=${onScroll} tabindex="0"
      role="log" aria-label="Log lines, oldest at the top" aria-live="off"
      data-following=${following ? "true" : "false"}>
      <div class="log-rows" style=${{ height: `${total}px` }}>${rows}</div>
    </div>
    <div class="log-foot">
      <span class="muted small" id="log-count">${
    entries.length.toLocaleString("en-US")
  } lines</span>
      ${
    following
      ? html`<span class="live-dot small">following the newest</span>`
      : html`<button type="button" id="jump-newest" class="primary" onClick=${jump}>
          Jump to newest${unseen > 0 ? ` (${unseen.toLocaleString("en-US")} new)` : ""}</button>`
  }
    </div>
    ${
    selected
      ? html`
        <div class="card log-detail" id="log-detail">
          <div class="row"><strong>${formatTime(selected.time)}</strong>
                  <span class=${`level ${selected.level}`}>${selected.level}</span>
                  ${selected.function ? html`<code>${selected.function}</code>` : ""}
                  <span class="grow"></span>
                  <button type="button" onClick=${() => setSelected(null)}>Close</button></div>
          <pre>${selected.message}</pre>
        </div>
      `
      : ""
  }
  </div>`;
}

function Row(
  { entry, top, app, env, filters, selected, onSelect }: {
    entry: LogEntry;
    top: number;
    app: string;
    env: string;
    filters: LogFilters;
    selected: boolean;
    onSelect: (entry: LogEntry) => void;
  },
): VNode {
  const lines = entry.message.split("\n");
  const folded = lines.length - 1;
  return html`
    <div class=${`log-row ${entry.level}${selected ? " selected" : ""}`}
      style=${{ transform: `translateY(${top}px)` }} data-id=${entry.id}
      onClick=${() => onSelect(entry)}>
      <span class="time">${formatTime(entry.time)}</span>
      <span class=${`level ${entry.level}`}>${entry.level}</span>
      <span class="fn" title=${entry.function ?? ""}>${entry.function ?? ""}</span>
      <span class="rid">${entry.request_id
        ? html`<a class="request-id" href=${
          hashOf(app, "logs", env, { ...filters, request_id: entry.request_id })
        } title=${`only ${entry.request_id}`} onClick=${(e: Event) => e.stopPropagation()}>${
          entry.request_id.slice(-8)
        }</a>`
        : ""}</span>
      <span class=${`st ${statusClass(entry.status)}`}>${entry.status ?? ""}</span>
      <span class="msg">${lines[0]}${folded > 0
        ? html`
          <button type="button" class="fold" title="show the whole entry">
              +${folded} ${folded === 1 ? "line" : "lines"}</button>
        `
        : ""}</span>
    </div>
  `;
}

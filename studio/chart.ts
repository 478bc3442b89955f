/// <reference lib="dom" />
/**
 * Time-series charts, drawn with uPlot (npm, bundled and served inline: no CDN): a time axis in
 * the viewer's zone, a unit on the value axis, the values under the cursor in the legend, and
 * totals in the card's heading. Small charts (`spark`) drop the axes and the legend.
 */
import type { VNode } from "preact";
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { html } from "./ui.ts";

/** One line of a chart. */
export interface Line {
  label: string;
  /** A CSS colour. */
  color: string;
  values: Array<number | null>;
}

/** What a chart shows. */
export interface ChartProps {
  title: string;
  /** The unit of the values, shown on the axis and with each hover value: "requests", "ms". */
  unit: string;
  /** Start of each point, in ms since the epoch. */
  times: number[];
  lines: Line[];
  /** Said beside the title, e.g. totals. */
  summary?: string;
  /** A small chart without axes or legend (overview cards). */
  spark?: boolean;
  height?: number;
  /** A test id for the card. */
  id?: string;
}

/** How a value reads with its unit: "12 requests", "3.5 ms". */
function withUnit(value: number | null | undefined, unit: string): string {
  if (value === null || value === undefined) return "–";
  const shown = Number.isInteger(value) ? value.toLocaleString("en-US") : value.toFixed(2);
  return `${shown} ${unit}`;
}

/** A chart card; redrawn when its data changes, resized with its container. */
export function Chart(props: ChartProps): VNode {
  const holder = useRef<HTMLDivElement>(null);
  // Redrawn when what it shows changes, not each time its page renders.
  const shown = JSON.stringify([props.times, props.lines, props.unit, props.spark, props.height]);
  useEffect(() => {
    const into = holder.current;
    if (!into) return;
    const width = () => Math.max(160, into.clientWidth);
    const height = props.height ?? (props.spark ? 48 : 180);
    const axis = { stroke: "#5c6370", grid: { stroke: "#eceef2" }, ticks: { stroke: "#dde1e7" } };
    const options: uPlot.Options = {
      width: width(),
      height,
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      series: [
        {
          label: "time",
          value: (_u, v) =>
            v === null ? "–" : new Date(v * 1000).toLocaleString("en-CA", {
              month: "short",
              day: "numeric",
              hour: "2-digit",
              minute: "2-digit",
              hourCycle: "h23",
              timeZoneName: "short",
            }),
        },
        ...props.lines.map((line) => ({
          label: line.label,
          stroke: line.color,
          width: 1.5,
          fill: `${line.color}14`,
          spanGaps: false,
          // A line of one or two values draws no segment: show its points.
          ...(line.values.filter((v) => v !== null).length < 3
            ? { points: { show: true, size: 6 } }
            : {}),
          value: (_u: uPlot, v: number | null) => withUnit(v, props.unit),
        })),
      ],
      axes: props.spark ? [{ show: false }, { show: false }] : [
        axis,
        {
          ...axis,
          label: props.unit,
          labelSize: 18,
          size: 56,
          values: (_u, splits) => splits.map((v) => v.toLocaleString("en-US")),
        },
      ],
      legend: { show: !props.spark, live: true },
      cursor: { show: !props.spark, drag: { x: false, y: false } },
    };
    const data: uPlot.AlignedData = [
      props.times.map((t) => t / 1000),
      ...props.lines.map((line) => line.values),
    ];
    const plot = new uPlot(options, data, into);
    const resize = new ResizeObserver(() => plot.setSize({ width: width(), height }));
    resize.observe(into);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [shown]);
  if (props.spark) return html`<div class="spark" ref=${holder} aria-hidden="true"></div>`;
  const summary = props.summary ? html`<span class="muted small">${props.summary}</span>` : "";
  return html`
    <section class="card chart" data-chart=${props.id ?? props.title}>
      <h3>${props.title} ${summary}</h3>
      <div class="plot" ref=${holder}></div>
    </section>
  `;
}

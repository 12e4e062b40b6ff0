// The session page's charts, from its summary (GET /sessions/{id}/summary): events per type as
// bars, events per minute as a sparkline, and the steps over time as a waterfall. Each number a
// chart draws is also text (a label or a <title>), so it can be read, and compared with the API.

import { byId, el } from "./dom.js";
import { formatDuration, formatInstant, kindOf, plural } from "./format.js";
import { chartFrame, svgEl, tip } from "./svg.js";

// Drawn at the width of their box (one unit a CSS pixel), so text keeps its size from 360 px up.
const DEFAULT_WIDTH = 600;
const NUMBER = 56; // the right column of the bars: counts
const BAR_ROW = 20;
const labelWidth = (width) => Math.min(190, Math.round(width * 0.38)); // the names' column

// Events per type, most first, one bar each with its count written beside it.
export function typeBars(eventTypes, width = DEFAULT_WIDTH) {
  const LABEL = labelWidth(width);
  const height = Math.max(1, eventTypes.length) * BAR_ROW + 4;
  const total = eventTypes.reduce((sum, row) => sum + row.events, 0);
  const svg = chartFrame(
    "chart-types",
    "Events per type",
    `${plural(total, "event")} of ${plural(eventTypes.length, "type")}, most first.`,
    width,
    height,
  );
  const most = Math.max(1, ...eventTypes.map((row) => row.events));
  const room = width - LABEL - NUMBER;
  eventTypes.forEach(({ event_type: type, events }, i) => {
    const y = i * BAR_ROW + 2;
    const length = Math.max(2, (events / most) * room);
    svg.append(
      svgEl(
        "g",
        { class: `bar kind-${kindOf(type)}`, "data-type": type, "data-count": events },
        tip(`${type}: ${plural(events, "event")}`),
        svgEl("text", { x: LABEL - 8, y: y + 13, "text-anchor": "end", class: "label" }, clip(type, LABEL / 7.8)),
        svgEl("rect", { x: LABEL, y: y + 2, width: length, height: BAR_ROW - 6, rx: 2 }),
        svgEl("text", { x: LABEL + length + 6, y: y + 13, class: "count" }, String(events)),
      ),
    );
  });
  return svg;
}

// Events per bucket (a minute, or more for a long session) as a line, each bucket a <title>.
export function activitySparkline(activity, width = DEFAULT_WIDTH) {
  const counts = activity.counts;
  const height = 90;
  const top = 18;
  const bottom = height - 18;
  const total = counts.reduce((sum, n) => sum + n, 0);
  const peak = Math.max(0, ...counts);
  const minutes = activity.bucket_seconds / 60;
  const unit = minutes === 1 ? "minute" : `${minutes} minutes`;
  const svg = chartFrame(
    "chart-activity",
    `Events per ${unit}`,
    counts.length
      ? `${plural(total, "event")} over ${plural(counts.length, "bucket")} of ${unit}` +
          ` from ${formatInstant(activity.start)}; at most ${peak} in one.`
      : "No events yet.",
    width,
    height,
  );
  svg.dataset.total = total;
  svg.dataset.peak = peak;
  const step = counts.length > 1 ? width / (counts.length - 1) : width;
  const yOf = (n) => bottom - (peak ? (n / peak) * (bottom - top) : 0);
  const points = counts.map((n, i) => `${(i * step).toFixed(1)},${yOf(n).toFixed(1)}`);
  if (counts.length === 1) points.push(`${width},${yOf(counts[0]).toFixed(1)}`);
  svg.append(
    svgEl("line", { x1: 0, x2: width, y1: bottom, y2: bottom, class: "axis" }),
    svgEl("polyline", { points: points.join(" "), class: "spark" }),
  );
  const start = new Date(activity.start).getTime();
  counts.forEach((n, i) => {
    const at = formatInstant(start + i * activity.bucket_seconds * 1000);
    const x = Math.max(0, i * step - step / 2);
    svg.append(
      svgEl(
        "rect",
        { class: "bucket", x, y: 0, width: step, height: bottom, "data-count": n },
        tip(`${at}: ${plural(n, "event")}`),
      ),
    );
  });
  svg.append(
    svgEl("text", { x: 0, y: height - 4, class: "axis-label" }, formatInstant(activity.start)),
    svgEl("text", { x: width, y: 11, "text-anchor": "end", class: "axis-label" }, `peak ${peak}`),
  );
  return svg;
}

// Buildkite's waterfall: each step a bar from its first event to its newest, coloured by status.
export function stepWaterfall(steps, width = DEFAULT_WIDTH) {
  const LABEL = labelWidth(width);
  const row = steps.length > 40 ? Math.max(3, Math.floor(800 / steps.length)) : 16;
  const height = Math.max(1, steps.length) * row + 22;
  const svg = chartFrame(
    "chart-waterfall",
    "Steps over time",
    steps.length
      ? `${plural(steps.length, "step")}, each from its first event to its newest.`
      : "No steps yet.",
    width,
    height,
  );
  if (!steps.length) return svg;
  const times = steps.map((s) => [Date.parse(s.started_at), Date.parse(s.ended_at)]);
  const t0 = Math.min(...times.map(([a]) => a));
  const span = Math.max(1, Math.max(...times.map(([, b]) => b)) - t0);
  const room = width - LABEL - 4;
  steps.forEach((step, i) => {
    const [from, to] = times[i];
    const y = i * row;
    const x = LABEL + ((from - t0) / span) * room;
    const status = step.status ?? "unknown";
    const name = step.name ?? step.step_id.slice(0, 8);
    svg.append(
      svgEl(
        "g",
        { class: `step status-${status}`, "data-step-id": step.step_id, "data-status": status },
        tip(`${name}: ${status}, ${formatDuration(to - from)}, ${plural(step.events, "event")}`),
        row >= 12
          ? svgEl("text", { x: LABEL - 8, y: y + row - 4, "text-anchor": "end", class: "label" }, clip(name, LABEL / 7.8, true))
          : null,
        svgEl("rect", { x, y: y + 1, width: Math.max(2, ((to - from) / span) * room), height: row - 2, rx: 1 }),
      ),
    );
  });
  svg.append(
    svgEl("text", { x: LABEL, y: height - 4, class: "axis-label" }, formatInstant(t0)),
    svgEl("text", { x: width, y: height - 4, "text-anchor": "end", class: "axis-label" }, formatDuration(span)),
  );
  return svg;
}

// Shortened to `length` characters, keeping the start (or, `fromEnd`, the end: step names
// share their beginnings and differ at the end).
const clip = (text, length, fromEnd = false) => {
  const keep = Math.max(4, Math.floor(length));
  if (text.length <= keep) return text;
  return fromEnd ? `…${text.slice(text.length - keep + 1)}` : `${text.slice(0, keep - 1)}…`;
};

// Each chart under a visible caption, drawn at its box's width.
function place(boxId, caption, draw) {
  const box = byId(boxId);
  const svg = draw(Math.max(240, box.clientWidth - 14) || DEFAULT_WIDTH);
  box.replaceChildren(el("figcaption", {}, caption), svg);
}

export function renderCharts(summary) {
  byId("run-charts").hidden = false;
  place("chart-types-box", "Events per type", (w) => typeBars(summary.event_types, w));
  const minutes = summary.activity.bucket_seconds / 60;
  place("chart-activity-box", minutes === 1 ? "Events per minute" : `Events per ${minutes} minutes`, (w) =>
    activitySparkline(summary.activity, w),
  );
  place("chart-waterfall-box", "Steps over time", (w) => stepWaterfall(summary.steps, w));
}

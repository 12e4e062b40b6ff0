// A session's steps (GitHub Actions' step list): one collapsible group each, in order of first
// appearance, with its latest status, duration and event count from the summary. Opening one
// lists its events (GET .../events?step_id=...), oldest first, a page at a time.

import { apiUrl, call, parseLinks } from "./api.js";
import { byId, el } from "./dom.js";
import { renderEvent } from "./event-row.js";
import { formatDuration, plural } from "./format.js";
import { statusBadge } from "./statuses.js";

const STEP_PAGE = 50;

function stepHeading(step) {
  const ms = Date.parse(step.ended_at) - Date.parse(step.started_at);
  return el(
    "summary",
    {},
    el("span", { class: "step-name" }, step.name ?? `step ${step.step_id.slice(0, 8)}`),
    statusBadge(step.status ?? "unknown"),
    el("span", { class: "step-duration", "data-ms": ms }, formatDuration(ms)),
    el("span", { class: "step-events", "data-count": step.events }, plural(step.events, "event")),
  );
}

// Lists a page of the step's events below its heading; "More" follows the Link's next.
async function loadStepEvents(group, url, signal) {
  const more = group.querySelector(".step-more");
  more.disabled = true;
  try {
    const response = await call(url, { signal });
    const page = await response.json();
    group.querySelector(".step-events-list").append(...page.items.map(renderEvent));
    const next = page.pagination.has_next && parseLinks(response.headers.get("Link")).next;
    more.hidden = !next;
    more.dataset.next = next || "";
    group.dataset.loaded = group.dataset.events;
  } catch (error) {
    if (!signal?.aborted) group.querySelector(".step-note").textContent = `Could not list: ${error.message}`;
  } finally {
    more.disabled = false;
  }
}

function firstPage(group, sessionId, signal) {
  group.querySelector(".step-events-list").replaceChildren();
  group.querySelector(".step-note").textContent = "";
  const url = apiUrl(`sessions/${encodeURIComponent(sessionId)}/events`, [
    ["step_id", group.dataset.stepId],
    ["order", "asc"],
    ["per_page", STEP_PAGE],
  ]);
  return loadStepEvents(group, url, signal);
}

function stepGroup(step, sessionId, signal) {
  const more = el("button", { type: "button", class: "step-more", hidden: "" }, "More events of this step");
  const group = el(
    "details",
    { class: "step-group", "data-step-id": step.step_id },
    stepHeading(step),
    el("p", { class: "note step-note", role: "status" }),
    el("ol", { class: "timeline step-events-list" }),
    more,
  );
  more.addEventListener("click", () => {
    if (more.dataset.next) loadStepEvents(group, apiUrl(more.dataset.next), signal);
  });
  // Opened (again): list its events, afresh when the step has had new ones since.
  group.addEventListener("toggle", () => {
    if (group.open && group.dataset.loaded !== group.dataset.events) firstPage(group, sessionId, signal);
  });
  return group;
}

// Draws the summary's steps, keeping the groups already there (and whether they are open).
export function renderSteps(summary, sessionId, signal) {
  const list = byId("step-list");
  const existing = new Map([...list.children].map((group) => [group.dataset.stepId, group]));
  const groups = summary.steps.map((step) => {
    const group = existing.get(step.step_id) ?? stepGroup(step, sessionId, signal);
    group.querySelector("summary").replaceChildren(...stepHeading(step).childNodes); // keeps focus
    group.dataset.status = step.status ?? "unknown";
    group.dataset.events = step.events;
    if (group.open && group.dataset.loaded !== group.dataset.events) firstPage(group, sessionId, signal);
    return group;
  });
  list.replaceChildren(...groups);
  byId("run-steps").hidden = groups.length === 0;
  const more = summary.steps_total > groups.length ? ` (the first ${groups.length} shown)` : "";
  byId("steps-note").textContent = `${plural(summary.steps_total, "step")}${more}, in order of first appearance.`;
}

export function clearSteps() {
  byId("step-list").replaceChildren();
  byId("run-steps").hidden = true;
}

// One event as a row, the same wherever it is listed (the timeline, a step, search results):
// its time, a link to it (#session=<id>&seq=<n>), its type, message, step and event_data.

import { el } from "./dom.js";
import { formatInstant, kindOf } from "./format.js";
import { withToken } from "./link-token.js";

// The fragment that opens a session's page at one of its events (with a share link's token,
// so the link still opens the page when reloaded).
export const eventHref = (sessionId, seq) => withToken(`#session=${sessionId}&seq=${seq}`);

export function renderEvent(event) {
  const kind = kindOf(event.event_type);
  const data = event.event_data || {};
  const keys = Object.keys(data);
  const details = el(
    "details",
    { class: "data" },
    el("summary", {}, keys.length ? `event_data: ${keys.join(", ")}` : "event_data: {}"),
    el("pre", {}, JSON.stringify(data, null, 2)),
  );
  return el(
    "li",
    { class: `event kind-${kind}`, "data-seq": event.seq, "data-type": event.event_type },
    el(
      "time",
      { class: "time", datetime: event.timestamp, title: event.timestamp },
      formatInstant(event.timestamp, { ms: true }),
    ),
    el(
      "a",
      { class: "seq", href: eventHref(event.session_id, event.seq), title: `Link to event ${event.seq}` },
      `#${event.seq}`,
    ),
    el("span", { class: `type kind-${kind}`, title: event.event_type }, event.event_type),
    el("span", { class: "message" }, event.message ?? ""),
    el(
      "span",
      { class: "step", title: event.step_id ? `step_id ${event.step_id}` : "no step" },
      event.step_id ? `step ${event.step_id.slice(0, 8)}` : "",
    ),
    details,
  );
}

// Newest first: a live event usually goes on top, an older page at the bottom.
export function insertBySeq(list, row, seq) {
  const first = list.firstElementChild;
  if (!first || Number(first.dataset.seq) < seq) return list.prepend(row);
  const last = list.lastElementChild;
  if (Number(last.dataset.seq) > seq) return list.append(row);
  for (const child of list.children) {
    if (Number(child.dataset.seq) < seq) return child.before(row);
  }
  list.append(row);
}

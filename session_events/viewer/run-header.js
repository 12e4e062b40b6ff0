// A session page's header: where the run stands. Its status, how long it has run (ticking until
// it ends, then created_at..completed_at), its events, and for a failed run its first error with
// a link to that event. Drawn from a session document and, once read, the summary's first_error.

import { byId, el } from "./dom.js";
import { formatDuration, formatInstant, plural } from "./format.js";
import { eventHref } from "./event-row.js";
import { isTerminal, sessionDuration, statusBadge } from "./statuses.js";

let ticker = null;
let shown = null; // the session drawn: what the ticking duration reads
let firstErrorShown = null; // the summary's first_error, kept while the session is re-read

function tick() {
  const node = byId("run-duration");
  if (!node || !shown) return;
  const { ms, open: running } = sessionDuration(shown);
  node.textContent = running ? `running for ${formatDuration(ms)}` : `took ${formatDuration(ms)}`;
  node.dataset.ms = Math.round(ms);
  node.dataset.running = running;
}

function errorLine(session, firstError) {
  if (!firstError || session.status !== "failed") return null;
  return el(
    "p",
    { class: "run-error", id: "run-error", role: "status" },
    el("strong", {}, "First error: "),
    el("span", { class: "message" }, firstError.message ?? firstError.event_type),
    " ",
    el("a", { href: eventHref(session.id, firstError.seq), "data-seq": firstError.seq }, `event #${firstError.seq}`),
    el("span", { class: "when" }, ` at ${formatInstant(firstError.timestamp)}`),
  );
}

// `firstError` undefined keeps the one drawn from the last summary.
export function renderHeader(session, firstError) {
  if (firstError !== undefined) firstErrorShown = firstError;
  const count = byId("event-count");
  const events = Math.max(session.event_count, Number(count?.dataset.count ?? 0));
  shown = session;
  const error = errorLine(session, firstErrorShown);
  byId("session-info").replaceChildren(
    el(
      "div",
      { class: "title" },
      el("h2", { id: "session-heading" }, session.session_type),
      statusBadge(session.status),
      el("code", { class: "id" }, session.id),
    ),
    el(
      "p",
      { class: "meta" },
      session.project_path ? `${session.project_path} · ` : "",
      `created ${formatInstant(session.created_at)} · `,
      el("span", { id: "run-duration" }),
      " · ",
      el("span", { id: "event-count", "data-count": events }, plural(events, "event")),
      session.last_event_at ? ` · last at ${formatInstant(session.last_event_at)}` : "",
    ),
    ...(error ? [error] : []),
  );
  tick();
  clearInterval(ticker);
  ticker = isTerminal(session.status) ? null : setInterval(tick, 1000);
}

// The newest seq seen: seq is 1, 2, 3, ... so it is the session's event count.
export function headerCount(seq) {
  const count = byId("event-count");
  if (count && Number(count.dataset.count) < seq) {
    count.dataset.count = seq;
    count.textContent = plural(seq, "event");
  }
}

export function stopHeader() {
  clearInterval(ticker);
  ticker = null;
  shown = null;
  firstErrorShown = null;
}

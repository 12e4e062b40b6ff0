// The rows of the sessions page: one link a session (to #session=<id>) with its status, type, id,
// project, newest message, event count, duration and age. Rows are drawn from a GET /sessions
// page and updated in place from the stream, briefly highlighted; ages tick on a timer.

import { byId, el } from "./dom.js";
import { formatAge, formatDuration, formatInstant, plural } from "./format.js";
import { sessionDuration, statusBadge } from "./statuses.js";

const rows = new Map(); // id -> {session, node}

// created_at to completed_at, or how long it has been open.
function duration(session, now) {
  const { ms, open } = sessionDuration(session, now);
  if (!open) return formatDuration(ms);
  const text = formatDuration(ms);
  return session.status === "in_progress" ? `running for ${text}` : `${session.status} for ${text}`;
}

// One line; the whole text in its title (a long message is cut with an ellipsis by the CSS).
function oneLine(className, text, empty) {
  return text
    ? el("span", { class: `cell ${className}`, title: text }, text)
    : el("span", { class: `cell ${className} none` }, empty);
}

function cells(session, now) {
  return [
    el("span", { class: "cell status" }, statusBadge(session.status)),
    el(
      "span",
      { class: "cell what" },
      el("span", { class: "type", title: session.session_type }, session.session_type),
      el("code", { class: "id", title: session.id }, session.id.slice(0, 8)),
    ),
    oneLine("project", session.project_path, "no project"),
    oneLine("message", session.last_message, "no message yet"),
    el("span", { class: "cell events" }, plural(session.event_count, "event")),
    el("span", { class: "cell duration" }, duration(session, now)),
    el(
      "span",
      { class: "cell age" },
      el(
        "time",
        { datetime: session.created_at, title: `created ${formatInstant(session.created_at)}` },
        formatAge(session.created_at, now),
      ),
    ),
  ];
}

function rowOf(session, now) {
  const link = el("a", { class: "session-row", href: `#session=${session.id}` }, ...cells(session, now));
  return el("li", { "data-id": session.id, "data-status": session.status }, link);
}

// A session's row drawn anew, briefly highlighted.
function redraw(row, session) {
  row.session = session;
  row.node.dataset.status = session.status;
  const link = row.node.firstElementChild;
  link.replaceChildren(...cells(session, Date.now()));
  link.classList.remove("changed");
  void link.offsetWidth; // restarts the highlight's animation
  link.classList.add("changed");
  link.addEventListener("animationend", () => link.classList.remove("changed"), { once: true });
}

// Whether `after` is a later state of the session than `before`: a page read before a stream
// event may be answered after it, and must not put the older state back.
const isNewer = (before, after) =>
  after.updated_at > before.updated_at ||
  (after.updated_at === before.updated_at && after.event_count > before.event_count);

// A GET /sessions page's items, in its order. A row already shown keeps its node (and its
// focus), redrawn only if the session changed since.
export function drawRows(sessions) {
  const now = Date.now();
  const kept = new Map();
  const nodes = sessions.map((session) => {
    let row = rows.get(session.id);
    if (!row) row = { session, node: rowOf(session, now) };
    else if (isNewer(row.session, session)) redraw(row, session);
    kept.set(session.id, row);
    return row.node;
  });
  rows.clear();
  for (const [id, row] of kept) rows.set(id, row);
  const list = byId("session-rows");
  const same = nodes.length === list.children.length && nodes.every((n, i) => n === list.children[i]);
  if (!same) list.replaceChildren(...nodes); // moving nodes would lose a row's focus
}

// The newest state of a session shown (a stream event), drawn in place; false when not shown.
export function updateRow(session) {
  const row = rows.get(session.id);
  if (!row) return false;
  if (isNewer(row.session, session)) redraw(row, session);
  return true;
}

// A session read elsewhere on the page (its own view) updates its row.
export const showStatus = (session) => void updateRow(session);

export function removeRow(id) {
  rows.get(id)?.node.remove();
  rows.delete(id);
}

// Ages and open durations move with the clock.
export function tick() {
  const now = Date.now();
  for (const { session, node } of rows.values()) {
    node.querySelector(".age time").textContent = formatAge(session.created_at, now);
    if (!session.completed_at) node.querySelector(".duration").textContent = duration(session, now);
  }
}

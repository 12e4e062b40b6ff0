// The side list of sessions: the newest page of GET /sessions, each a link to #session=<id>.

import { apiKey, apiUrl, getJson } from "./api.js";
import { byId, el } from "./dom.js";
import { formatInstant, plural } from "./format.js";
import { statusBadge } from "./statuses.js";

const LISTED = 50;

function sessionItem(session, selectedId) {
  const link = el(
    "a",
    { href: `#session=${session.id}` },
    el("span", { class: "type" }, session.session_type),
    statusBadge(session.status),
    el("span", { class: "meta" }, `${formatInstant(session.created_at)} · ${plural(session.event_count, "event")}`),
    el("code", { class: "id" }, session.id.slice(0, 8)),
    session.project_path ? el("span", { class: "project" }, session.project_path) : null,
  );
  const item = el("li", { "data-id": session.id }, link);
  item.classList.toggle("selected", session.id === selectedId);
  return item;
}

// Lists the sessions, marking the one `selected()` names when they arrive; a refused key (401) calls
// `onRefused()`.
export async function loadSessions(selected, onRefused) {
  if (!apiKey.get()) return;
  try {
    const page = await getJson(apiUrl("sessions", [["per_page", LISTED]]));
    const selectedId = selected();
    const items = page.items.map((session) => sessionItem(session, selectedId));
    byId("session-list").replaceChildren(...items);
    const total = page.pagination.total;
    byId("sessions-note").textContent = total
      ? `${plural(total, "session")}, newest first${total > items.length ? ` (the ${items.length} newest)` : ""}.`
      : "No sessions yet.";
  } catch (error) {
    if (error.status === 401) return onRefused();
    byId("sessions-note").textContent = `Could not list sessions: ${error.message}`;
  }
}

export function clearSessions(message) {
  byId("sessions-note").textContent = message;
  byId("session-list").replaceChildren();
}

export function markSelected(sessionId) {
  for (const item of document.querySelectorAll("#session-list li")) {
    item.classList.toggle("selected", item.dataset.id === sessionId);
  }
}

// A session read elsewhere on the page updates its badge in the list.
export function showStatus(session) {
  for (const item of document.querySelectorAll("#session-list li")) {
    if (item.dataset.id === session.id) {
      item.querySelector(".badge").replaceWith(statusBadge(session.status));
    }
  }
}

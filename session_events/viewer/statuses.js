// A session's status as the page knows it, from the contract the server serves: SessionStatus'
// x-next-statuses names the statuses each may move to, and one that may move to none is terminal
// (a session there never changes again and its streams end). Every module that asks "is it
// over?" asks isTerminal.

import { API } from "./api.js";
import { el } from "./dom.js";

// The contract needs no key. Should it not arrive (a proxy's error page, say), the page still
// works and only never calls a session finished.
const contract = await fetch(new URL("openapi.json", API))
  .then((response) => (response.ok ? response.json() : null))
  .catch(() => null);
const nextStatuses = contract?.components?.schemas?.SessionStatus?.["x-next-statuses"] ?? {};

export const TERMINAL_STATUSES = Object.freeze(
  Object.keys(nextStatuses).filter((status) => nextStatuses[status].length === 0),
);

export const isTerminal = (status) => TERMINAL_STATUSES.includes(status);

// The coloured badge of a status (viewer.css has one colour per status).
export function statusBadge(status) {
  return el("span", { class: `badge status-${status}`, "data-status": status }, status);
}

// How long a session has lasted: created_at to completed_at once it is over, else to `now`
// (milliseconds since the epoch); `open` while it may still change.
export function sessionDuration(session, now = Date.now()) {
  const start = Date.parse(session.created_at);
  if (session.completed_at) return { ms: Date.parse(session.completed_at) - start, open: false };
  return { ms: Math.max(0, now - start), open: !isTerminal(session.status) };
}

// A session's status as the page knows it. The source is the contract (openapi/events-api.yaml):
// SessionStatus lists the statuses, and PATCH /sessions/{session_id} says `completed`, `failed`
// and `cancelled` are terminal (a session there never changes again and its streams end). The
// contract says so only in prose, so this is the page's one copy; tests/browser holds it to the
// server's. Every module that asks "is it over?" asks isTerminal.

import { el } from "./dom.js";

export const TERMINAL_STATUSES = Object.freeze(["completed", "failed", "cancelled"]);

export const isTerminal = (status) => TERMINAL_STATUSES.includes(status);

// The coloured badge of a status (viewer.css has one colour per status).
export function statusBadge(status) {
  return el("span", { class: `badge status-${status}`, "data-status": status }, status);
}

// Around the rows of the sessions page: the status tabs with their counts (GET /sessions'
// status_counts), the pager ("1–25 of 80 sessions", "page 1 of 4") and what an empty page says.

import { API } from "./api.js";
import { byId, el } from "./dom.js";
import { plural } from "./format.js";
import { fragmentOf } from "./sessions-query.js";

// Tabs: All, then each status the server counts, in the server's order; each a link to the
// same view with that status (a new status starts at page 1).
export function drawTabs(state, counts) {
  const all = Object.values(counts).reduce((sum, count) => sum + count, 0);
  const tabs = [["", "All", all], ...Object.entries(counts).map(([s, n]) => [s, s.replaceAll("_", " "), n])];
  byId("status-tabs").replaceChildren(
    ...tabs.map(([status, label, count]) =>
      el(
        "a",
        {
          class: `tab${status ? ` tab-${status}` : ""}`,
          href: fragmentOf({ ...state, status, page: 1 }),
          "data-status": status,
          "aria-current": state.status === status ? "page" : null,
        },
        el("span", { class: "label" }, label),
        el("span", { class: count ? "count" : "count none" }, String(count)),
      ),
    ),
  );
}

export function drawPager(pagination, shown) {
  const { page, per_page: perPage, total, total_pages: pages } = pagination;
  const first = (page - 1) * perPage + 1;
  byId("page-range").textContent = shown
    ? `${first}–${first + shown - 1} of ${plural(total, "session")}`
    : plural(total, "session");
  byId("page-info").textContent = pages ? `page ${page} of ${pages}` : "";
  byId("page-prev").disabled = !pagination.has_prev;
  byId("page-next").disabled = !pagination.has_next;
  byId("sessions-pager").hidden = total === 0;
}

// Nothing to show: how to make a first session, or (filters set) a way out of them.
export function drawEmpty(kind) {
  const box = byId("sessions-empty");
  box.hidden = !kind;
  byId("sessions-table").hidden = Boolean(kind);
  if (kind === "none") {
    const create =
      `curl -X POST ${new URL("sessions", API)} -H 'X-API-Key: <a write key>' ` +
      `-H 'Content-Type: application/json' -d '{"session_type": "build"}'`;
    box.replaceChildren(
      el("p", { class: "lead" }, "No sessions yet."),
      el("p", {}, "A session appears here, live, as soon as a producer creates one:"),
      el("pre", {}, el("code", {}, create)),
      el("p", {}, "or start the server with a simulated workflow: ", el("code", {}, "session-events serve --demo")),
    );
  } else if (kind === "no-match") {
    box.replaceChildren(
      el("p", { class: "lead" }, "No sessions match these filters."),
      el("button", { id: "empty-clear", type: "button", "data-action": "clear" }, "Clear filters"),
    );
  }
}

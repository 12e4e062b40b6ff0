// Search in a session's messages: the listing's `q` (server-side, so it searches every event
// of the session, however many), newest first, a page at a time with its own "More results".
// While a search is shown the timeline waits hidden below it, still following.

import { apiUrl, call, parseLinks } from "./api.js";
import { byId } from "./dom.js";
import { renderEvent } from "./event-row.js";
import { plural } from "./format.js";

const SEARCH_PAGE = 50;

let searching = null; // {sessionId, q, next, abort}

function showing(on) {
  byId("search-results").hidden = !on;
  byId("search-clear").hidden = !on;
  byId("timeline").hidden = on;
  byId("timeline-note").hidden = on;
}

async function loadPage(url) {
  const current = searching;
  const more = byId("search-more");
  more.disabled = true;
  try {
    const response = await call(url, { signal: current.abort.signal });
    const page = await response.json();
    if (searching !== current) return;
    byId("search-list").append(...page.items.map(renderEvent));
    current.next = page.pagination.has_next ? parseLinks(response.headers.get("Link")).next : null;
    more.hidden = !current.next;
    const total = page.pagination.total;
    const listed = byId("search-list").children.length;
    byId("search-note").textContent =
      total === 0
        ? `No message contains “${current.q}”.`
        : `${plural(total, "event")} whose message contains “${current.q}”, newest first` +
          (listed < total ? ` (${listed} shown).` : ".");
  } catch (error) {
    if (searching === current && !current.abort.signal.aborted) {
      byId("search-note").textContent = `Could not search: ${error.message}`;
    }
  } finally {
    more.disabled = false;
  }
}

export function search(sessionId, q, types = []) {
  clearSearch();
  if (!q) return;
  searching = { sessionId, q, next: null, abort: new AbortController() };
  showing(true);
  byId("search-note").textContent = `Searching for “${q}”…`;
  const url = apiUrl(`sessions/${encodeURIComponent(sessionId)}/events`, [
    ["q", q],
    ["per_page", SEARCH_PAGE],
    ...types.map((type) => ["event_type", type]),
  ]);
  return loadPage(url);
}

export function clearSearch() {
  searching?.abort.abort();
  searching = null;
  byId("search-list").replaceChildren();
  byId("search-more").hidden = true;
  showing(false);
}

export function searchMore() {
  if (searching?.next) return loadPage(apiUrl(searching.next));
}

export const isSearching = () => searching !== null;

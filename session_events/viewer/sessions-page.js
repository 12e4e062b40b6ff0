// The sessions page (#, or a fragment of filters without `session=`): a page of GET /sessions
// with its status counts, kept live by the sessions stream. A progress update redraws its row in
// place; a session made or deleted, a status change (or any change while searching) reads the
// page and counts again, at most once a second, so what is listed and counted is always what the
// server's filters say.

import { apiKey, apiUrl, getJson } from "./api.js";
import { byId } from "./dom.js";
import { noteTypes, showFilters, wireFilters } from "./sessions-filters.js";
import { SessionsLive } from "./sessions-live.js";
import { drawEmpty, drawPager, drawTabs } from "./sessions-nav.js";
import { cleared, fragmentOf, isFiltered, listingParams, readFragment } from "./sessions-query.js";
import { drawRows, removeRow, tick, updateRow } from "./sessions-table.js";

const RELOAD_GAP_MS = 1000; // reads of the page at most this often while changes pour in
const TICK_MS = 5000; // ages and open durations move this often
const LIVE_TEXT = {
  connecting: "connecting…",
  live: "live",
  reconnecting: "reconnecting…",
  stopped: "not live",
};

let state = readFragment();
let onRefused = () => {};
let live = null;
let ticker = null;
let reloadTimer = null;
let lastReload = 0;
let reading = 0; // the newest GET /sessions asked: answers to older ones are dropped
const statuses = new Map(); // id -> status, as the stream last told

const note = (text) => {
  byId("sessions-note").textContent = text;
};

function showLive(liveState) {
  const node = byId("sessions-live");
  node.dataset.state = liveState;
  node.textContent = LIVE_TEXT[liveState];
}

// `refused()` runs when the server refuses the key (401).
export function wireSessionsPage(refused) {
  onRefused = refused;
  wireFilters(
    (values) => go({ ...state, ...values, page: 1 }, { replace: true }),
    () => go(cleared()),
  );
  byId("page-prev").addEventListener("click", () => go({ ...state, page: state.page - 1 }));
  byId("page-next").addEventListener("click", () => go({ ...state, page: state.page + 1 }));
}

// Puts a view in the fragment and shows it: typing replaces the history entry, the rest adds one
// (whose hashchange routes back here).
function go(next, { replace = false } = {}) {
  // A typing pause that ends after a session was opened: the sessions are no longer shown.
  if (byId("sessions-view").hidden) return;
  const fragment = fragmentOf(next);
  if (fragment === fragmentOf(readFragment())) return showSessions();
  if (!replace) {
    location.hash = fragment;
    return;
  }
  history.replaceState(null, "", fragment);
  showSessions();
}

// Shows the view the fragment names, live.
export function showSessions() {
  state = readFragment();
  showFilters(state);
  if (!apiKey.get()) return;
  if (!live) startLive();
  ticker ??= setInterval(tick, TICK_MS);
  reload();
}

// Another view is shown: nothing more is read for this one.
export function hideSessions() {
  live?.stop();
  live = null;
  clearInterval(ticker);
  ticker = null;
  clearTimeout(reloadTimer);
  reloadTimer = null;
  reading++;
}

// No key (or a refused one): nothing is shown but `message`.
export function clearSessions(message) {
  hideSessions();
  showLive("stopped");
  showNothing();
  note(message);
}

async function reload() {
  clearTimeout(reloadTimer);
  reloadTimer = null;
  lastReload = Date.now();
  const asked = ++reading;
  const shown = state;
  try {
    const page = await getJson(apiUrl("sessions", listingParams(shown)));
    if (asked !== reading) return;
    const { items, pagination } = page;
    if (!items.length && shown.page > pagination.total_pages && pagination.total_pages > 0) {
      return go({ ...shown, page: pagination.total_pages }, { replace: true }); // it shrank
    }
    note("");
    noteTypes(items);
    drawTabs(shown, page.status_counts);
    drawRows(items);
    drawPager(pagination, items.length);
    drawEmpty(items.length ? null : isFiltered(shown) ? "no-match" : "none");
  } catch (error) {
    if (asked !== reading) return;
    if (error.status === 401) return onRefused();
    // A query the server refuses (400) lists nothing; rows shown before a lost connection stay.
    if (error.status) showNothing();
    note(`Could not list sessions: ${error.message}`);
  }
}

function showNothing() {
  byId("status-tabs").replaceChildren();
  drawRows([]);
  drawEmpty(null);
  byId("sessions-pager").hidden = true;
}

function scheduleReload() {
  if (reloadTimer || !live) return;
  reloadTimer = setTimeout(reload, Math.max(0, lastReload + RELOAD_GAP_MS - Date.now()));
}

function startLive() {
  const current = new SessionsLive(
    whileCurrent({
      snapshot(items, reason) {
        // The state as of now: a first one closes the gap since the first read, one with a
        // reason replaces what was known.
        if (reason) statuses.clear();
        for (const session of items) statuses.set(session.id, session.status);
        noteTypes(items);
        scheduleReload();
      },
      session(kind, session) {
        const before = statuses.get(session.id);
        statuses.set(session.id, session.status);
        noteTypes([session]);
        updateRow(session);
        if (kind === "created" || before !== session.status || state.q) scheduleReload();
      },
      deleted(id) {
        statuses.delete(id);
        removeRow(id);
        scheduleReload();
      },
      state(liveState) {
        showLive(liveState);
        // While the stream is out (a proxy that will not stream, a restart), each attempt to
        // reopen it also reads the page again: slower than live, never frozen.
        if (liveState === "reconnecting") scheduleReload();
      },
      failed(error) {
        if (error.status === 401) return onRefused();
        note(`Live updates stopped: ${error.message}`);
      },
    }),
  );
  live = current;
  current.run();

  // A stopped feed may still be finishing a chunk: what it says then is not this view's.
  function whileCurrent(handlers) {
    return Object.fromEntries(
      Object.entries(handlers).map(([name, handler]) => [
        name,
        (...args) => live === current && handler(...args),
      ]),
    );
  }
}

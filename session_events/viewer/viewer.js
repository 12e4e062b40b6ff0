// The live session viewer: a reference client of the public API's polling and stream contract.
// This module is the page: it reads which session the URL names and wires the parts together.
// Each part is a module with one job, beside this one:
//   api.js           the API as the page calls it: the key (X-API-Key) or a share link's token
//                    (Authorization: Bearer, kept by link-token.js), never in a URL; links
//   sse.js           Server-Sent Events read from a fetch() body
//   dom.js           nodes built with text only (everything shown comes from untrusted producers)
//   format.js        times, counts and event-type colours as people read them
//   statuses.js      session statuses: which are terminal, their badges
//   key-form.js      the key form in the header
//   shared-link.js   the page a share link (#session=<id>&token=...) opens: read-only, one session
//   share.js         "Share": mints a read token and copies a link to the session shown
//   sessions-page.js the sessions page (#, filters in the fragment, no session named), live;
//                    its parts: sessions-query.js (fragment and query), sessions-table.js (rows),
//                    sessions-nav.js (tabs, pager, empty page), sessions-filters.js (the form),
//                    sessions-live.js (the sessions stream)
//   live-status.js   the header's stream/polling and connection indicators
//   run-page.js      a session's page: the view a Watch draws on, and its controls, made of
//     run-header.js    where the run stands (status, duration, events, first error)
//     summary-feed.js  its summary, re-read while events arrive
//     steps.js         its steps, each a collapsible group of its events
//     charts.js        events per type, per minute, steps over time (SVG drawn by svg.js)
//     timeline.js      its events newest first, following or paused, a linked one marked
//     event-row.js     one event as a row, with a link to it
//     timeline-search.js  search in its messages
//     download.js      the whole session as NDJSON
//   watch.js         following one session: first page, older pages, stream or polling
// The page has two views, chosen by the fragment: the sessions (#) and one session
// (#session=<id>); `route()` shows the one the URL names and stops what the other was doing.
// A share link's fragment also carries its token: the page then shows that session only, and
// every fragment it moves to keeps the token, so a reload still opens.

import { apiKey, hasCredential, onTokenRefused } from "./api.js";
import { byId } from "./dom.js";
import { askForKey, keyAccepted, wireKeyForm } from "./key-form.js";
import { adoptToken, linkToken, tokenInFragment, withToken } from "./link-token.js";
import { showConnection } from "./live-status.js";
import { RunPage, wireRunPage } from "./run-page.js";
import { resetShare, wireShare } from "./share.js";
import { showLinkMode, showLinkRefused } from "./shared-link.js";
import { clearSessions, hideSessions, showSessions, wireSessionsPage } from "./sessions-page.js";
import { showStatus } from "./sessions-table.js";
import { note, renderTypeOptions } from "./timeline.js";
import { Watch } from "./watch.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NO_KEY = "Enter an API key to list sessions.";
const REFUSED = "The server refused this key; enter another.";

let watch = null;
let knownTypes = new Set();

// #session=<id> (a ?session=<id> link, from something dropping fragments, was made one).
function selectedFromUrl() {
  const id = new URLSearchParams(location.hash.slice(1)).get("session");
  return id && UUID.test(id) ? id.toLowerCase() : null;
}

// #session=<id>&seq=<n>: the event a link names.
function seqFromUrl() {
  const seq = new URLSearchParams(location.hash.slice(1)).get("seq");
  return seq && /^[1-9][0-9]{0,17}$/.test(seq) ? Number(seq) : null;
}

function refused(message = "") {
  askForKey(message);
  clearSessions(NO_KEY);
  const sessionId = selectedFromUrl();
  if (sessionId) note(`Enter an API key to show session ${sessionId}.`);
}

// The share link's own session, whose page is all it opens.
const linkHome = () => withToken(`#session=${linkToken.claims()?.sid ?? ""}`);

// The server no longer accepts the link's token (expired, revoked): stop following, say so.
function linkRefused(detail) {
  linkToken.refuse(detail);
  watch?.stop();
  showConnection("stopped");
  resetShare(false);
  showLinkRefused(detail);
}

// Shows the view the URL names: one session's page, or the sessions.
function route(types = []) {
  if (linkToken.get() && !selectedFromUrl() && linkToken.claims()?.sid) {
    history.replaceState(null, "", linkHome()); // a link has no sessions page to show
  }
  const sessionId = selectedFromUrl();
  byId("sessions-view").hidden = Boolean(sessionId);
  byId("session-view").hidden = !sessionId;
  if (!sessionId) {
    watch?.stop();
    watch = null;
    byId("live").hidden = true;
    showSessions();
    return;
  }
  hideSessions();
  show(sessionId, types);
}

async function show(sessionId, types = []) {
  watch?.stop();
  watch = null;
  resetShare(false);
  if (!sessionId || !hasCredential()) return;
  if (linkToken.refused()) return linkRefused(linkToken.refused());
  resetShare(true);
  const page = new RunPage(sessionId, types, knownTypes, { onSession: showStatus, target: seqFromUrl() });
  const current = new Watch(sessionId, types, page);
  watch = current;
  try {
    await current.run();
  } catch (error) {
    if (current.stopped) return;
    showConnection("stopped");
    failed(error, sessionId);
  }
}

function failed(error, sessionId) {
  if (error.status === 401 && linkToken.get()) return linkRefused(error.message);
  if (error.status === 401) return refused(REFUSED);
  resetShare(false);
  if (error.status === 403) {
    // A link's token used on another session: the server says what it is limited to.
    byId("session-info").replaceChildren();
    return note(error.message);
  }
  if (error.status === 404) return note(`There is no session ${sessionId} (it may have been deleted).`);
  note(`Could not show the session: ${error.message}`);
}

// A ?session=<id> link becomes #session=<id>: the fragment is what the page navigates by, and
// "All sessions" (#) must not fall back to the query's session.
function fragmentFromQuery() {
  const id = new URLSearchParams(location.search).get("session");
  if (id && UUID.test(id) && !location.hash) {
    history.replaceState(null, "", `${location.pathname}#session=${id.toLowerCase()}`);
  }
}

// A fragment without the tab's token (typed, or a link without it) gets it back, so a reload of
// the page still opens; a fragment with another link's token makes that one the tab's.
function keepToken() {
  if (!tokenInFragment() && linkToken.get()) {
    history.replaceState(null, "", withToken(location.hash || "#"));
  } else if (adoptToken()) showLinkMode(linkToken.claims(), linkHome());
}

function start() {
  fragmentFromQuery();
  onTokenRefused(linkRefused);
  wireShare(() => watch?.sessionId ?? null);
  wireKeyForm({
    onKey: () => route(),
    onForget: () => {
      watch?.stop();
      refused();
    },
  });
  wireSessionsPage(() => refused(REFUSED));
  byId("load-older").addEventListener("click", () =>
    watch?.loadOlder().catch((error) => failed(error, watch?.sessionId)),
  );
  byId("type-options").addEventListener("change", () => {
    const types = [...document.querySelectorAll("#type-options input:checked")].map((i) => i.value);
    show(watch?.sessionId ?? selectedFromUrl(), types);
  });
  byId("clear-filter").addEventListener("click", () =>
    show(watch?.sessionId ?? selectedFromUrl(), []),
  );
  wireRunPage(
    () => watch,
    (error) => failed(error, watch?.sessionId),
  );
  window.addEventListener("hashchange", () => {
    keepToken();
    // Another event of the session shown: scroll to it, the watch carries on.
    const seq = seqFromUrl();
    if (watch && !watch.stopped && seq !== null && selectedFromUrl() === watch.sessionId) {
      watch.goTo(seq).catch((error) => failed(error, watch?.sessionId));
      return;
    }
    knownTypes = new Set();
    renderTypeOptions(knownTypes, []);
    route();
  });
  if (adoptToken()) {
    showLinkMode(linkToken.claims(), linkHome());
    route();
  } else if (apiKey.get()) {
    keyAccepted();
    route();
  } else {
    route();
    refused();
  }
}

start();

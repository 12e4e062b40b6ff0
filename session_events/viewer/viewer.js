// The live session viewer: a reference client of the public API's polling and stream contract.
// Everything shown comes from untrusted producers, so it is put in the page with textContent and
// createElement only, never parsed as HTML.

import { ApiError, apiKey, apiUrl, call, getJson, parseLinks } from "./api.js";
import { readStream } from "./sse.js";

const PAGE_SIZE = 50;
const POLL_MS = 2000; // the contract's recommended polling interval
// While polling, try the stream again after 3 s, then 6, 12, ... up to every 30 s: a stream that
// failed because the server was restarting comes back at once, a blocked one is not hammered.
const STREAM_FIRST_RETRY_MS = 3000;
const STREAM_AGAIN_MS = 30000;
const SESSIONS_REFRESH_MS = 10000;
const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const $ = (id) => document.getElementById(id);
const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });

// createElement with text children only: strings become text nodes, never markup.
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined) node.setAttribute(name, String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

const plural = (count, noun) => `${count} ${noun}${count === 1 ? "" : "s"}`;

function formatTime(timestamp) {
  const date = new Date(timestamp);
  if (Number.isNaN(date.getTime())) return timestamp;
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  return (
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `.${pad(date.getMilliseconds(), 3)}`
  );
}

// Colour of an event type: errors red, completed green, starts blue, the rest neutral.
export function kindOf(eventType) {
  if (/(error|fail|cancel)/.test(eventType)) return "error";
  if (/(warn|retry|paused)/.test(eventType)) return "warning";
  if (/(completed|succeeded|passed|done|finished)/.test(eventType)) return "success";
  if (/(started|created)/.test(eventType)) return "info";
  return "neutral";
}

function statusBadge(status) {
  return el("span", { class: `badge status-${status}`, "data-status": status }, status);
}

// --- connection indicators ---------------------------------------------------------------

const CONNECTION_TEXT = {
  connecting: "connecting…",
  connected: "connected",
  reconnecting: "reconnecting…",
  finished: "session finished",
  stopped: "stopped",
};

function showConnection(state) {
  const node = $("connection");
  node.dataset.state = state;
  node.textContent = CONNECTION_TEXT[state];
  $("live").hidden = false;
}

function showTransport(transport) {
  const node = $("transport");
  node.dataset.transport = transport;
  node.textContent = transport === "stream" ? "live: stream (SSE)" : "live: polling every 2 s";
  node.title =
    transport === "stream"
      ? "GET …/events/stream, resumed with Last-Event-ID"
      : "GET …/events?after_seq=…&order=asc with If-None-Match, every 2 s (the stream is unavailable)";
}

function note(text) {
  $("timeline-note").textContent = text;
}

// --- one session on screen -----------------------------------------------------------------

class Watch {
  constructor(sessionId, types, knownTypes) {
    this.sessionId = sessionId;
    this.types = types; // the event_type filter; empty: all
    this.knownTypes = knownTypes;
    this.abort = new AbortController();
    this.rows = new Map(); // seq -> <li>; also what dedupes events seen twice
    this.cursor = 0; // the highest seq covered: after_seq / Last-Event-ID
    this.etag = null;
    this.status = null;
    this.retryMs = 3000;
    this.streams = 0;
  }

  get stopped() {
    return this.abort.signal.aborted;
  }

  stop() {
    this.abort.abort();
  }

  url(path, params = []) {
    const id = encodeURIComponent(this.sessionId);
    return apiUrl(`sessions/${id}${path}`, [...params, ...this.types.map((t) => ["event_type", t])]);
  }

  get options() {
    return { signal: this.abort.signal };
  }

  async run() {
    $("timeline").replaceChildren();
    $("load-older").hidden = true;
    showConnection("connecting");
    // The newest page, then live from its latest_seq: nothing between the two is missed.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.loadFirstPage();
        break;
      } catch (error) {
        if (this.stopped || isFatal(error)) throw error;
        showConnection("reconnecting");
        await sleep(Math.min(1000 * attempt, 5000), this.abort.signal);
        if (this.stopped) return;
      }
    }
    await this.follow();
  }

  async loadFirstPage() {
    const session = await getJson(apiUrl(`sessions/${encodeURIComponent(this.sessionId)}`), this.options);
    showSession(session);
    this.status = session.status;
    const response = await call(this.url("/events", [["per_page", PAGE_SIZE]]), this.options);
    const page = await response.json();
    for (const event of page.items) this.add(event, false);
    this.cursor = page.latest_seq;
    this.older = page.pagination.has_next ? parseLinks(response.headers.get("Link")).next : null;
    $("load-older").hidden = !this.older;
    this.updateNote();
  }

  // "Load older": the next page of the first listing. The Link pins until_seq to that listing's
  // latest_seq, so pages do not shift while new events arrive at the top.
  async loadOlder() {
    if (!this.older) return;
    const button = $("load-older");
    button.disabled = true;
    try {
      const response = await call(apiUrl(this.older), this.options);
      const page = await response.json();
      for (const event of page.items) this.add(event, false);
      this.older = page.pagination.has_next ? parseLinks(response.headers.get("Link")).next : null;
      button.hidden = !this.older;
      this.updateNote();
    } finally {
      button.disabled = false;
    }
  }

  // Live: the stream; when it cannot be had but the API answers, cursor polling.
  async follow() {
    let transport = "stream";
    let failures = 0;
    let pollingSince = 0;
    let streamAgainMs = STREAM_FIRST_RETRY_MS;
    while (!this.stopped) {
      if (transport === "stream") {
        showTransport("stream");
        const outcome = await this.streamOnce();
        if (outcome === "finished") return showConnection("finished");
        if (outcome === "ended") {
          failures = 0;
          streamAgainMs = STREAM_FIRST_RETRY_MS;
          showConnection("reconnecting");
          await sleep(Math.min(this.retryMs, 1000), this.abort.signal);
          continue;
        }
        // The stream failed to open. If a poll works, the stream is what is unavailable.
        if (await this.pollOnce()) {
          transport = "polling";
          pollingSince = Date.now();
          continue;
        }
        failures++;
        showConnection("reconnecting");
        await sleep(Math.min(500 * 2 ** failures, this.retryMs), this.abort.signal);
      } else {
        showTransport("polling");
        const ok = await this.pollOnce();
        showConnection(ok ? "connected" : "reconnecting");
        if (ok && this.caughtUp && TERMINAL.has(this.status)) return showConnection("finished");
        if (Date.now() - pollingSince > streamAgainMs) {
          transport = "stream";
          streamAgainMs = Math.min(streamAgainMs * 2, STREAM_AGAIN_MS);
        } else await sleep(POLL_MS, this.abort.signal);
      }
    }
  }

  // One stream connection, read to its end: "ended" (closed or broken: resume),
  // "finished" (the session reached a terminal status), "failed" (it did not open).
  async streamOnce() {
    const headers = { Accept: "text/event-stream" };
    if (this.streams++ > 0) headers["Last-Event-ID"] = String(this.cursor); // resume exactly
    let response;
    try {
      response = await call(this.url("/events/stream", [["after_seq", this.cursor]]), {
        ...this.options,
        headers,
      });
    } catch (error) {
      if (this.stopped || error.status === 401 || error.status === 403) throw error;
      return "failed";
    }
    const type = response.headers.get("Content-Type") || "";
    if (!type.startsWith("text/event-stream") || !response.body) {
      response.body?.cancel();
      return "failed";
    }
    showConnection("connected");
    try {
      await readStream(response.body, (message) => this.onMessage(message), this.options);
    } catch (error) {
      if (this.stopped) throw error;
      return "ended";
    }
    // The server ends a stream once the session is over (or when it is shutting down).
    try {
      const session = await getJson(apiUrl(`sessions/${this.sessionId}`), this.options);
      showSession(session);
      this.status = session.status;
      return TERMINAL.has(session.status) ? "finished" : "ended";
    } catch (error) {
      if (this.stopped || isFatal(error)) throw error;
      return "ended";
    }
  }

  onMessage(message) {
    if (message.retry !== undefined) this.retryMs = message.retry;
    if (message.data === undefined) return; // the retry hint, heartbeats
    const event = JSON.parse(message.data);
    this.add(event, true);
  }

  // One round of the contract's polling loop: after the cursor, oldest first, revalidating with
  // the last ETag (304: nothing new), following rel="next" while has_next. False: no answer.
  async pollOnce() {
    try {
      let url = this.url("/events", [
        ["after_seq", this.cursor],
        ["order", "asc"],
        ["per_page", 100],
      ]);
      let headers = this.etag ? { "If-None-Match": this.etag } : {};
      for (;;) {
        const response = await call(url, { ...this.options, headers });
        if (response.status === 304) {
          this.caughtUp = true;
          return true;
        }
        const page = await response.json();
        for (const event of page.items) this.add(event, true);
        const next = page.pagination.has_next && parseLinks(response.headers.get("Link")).next;
        this.caughtUp = !next && page.items.length === 0;
        if (!next) {
          this.etag = response.headers.get("ETag");
          return true;
        }
        url = apiUrl(next);
        headers = {};
      }
    } catch (error) {
      if (this.stopped || isFatal(error)) throw error;
      return false;
    }
  }

  add(event, live) {
    if (live) this.cursor = Math.max(this.cursor, event.seq);
    if (this.rows.has(event.seq)) return; // replayed after a reconnect: already shown
    if (!this.knownTypes.has(event.event_type)) {
      this.knownTypes.add(event.event_type);
      renderTypeOptions(this.knownTypes, this.types);
    }
    if (event.event_type === "status_changed" && event.event_data?.new_status) {
      this.status = event.event_data.new_status;
      const badge = document.querySelector("#session-info .badge");
      if (badge) badge.replaceWith(statusBadge(this.status));
    }
    const count = $("event-count");
    if (count && Number(count.dataset.count) < event.seq) {
      count.dataset.count = event.seq; // seq is 1, 2, 3, ...: the newest one is the count
      count.textContent = plural(event.seq, "event");
    }
    const row = renderEvent(event);
    if (live) row.classList.add("new");
    insertBySeq($("timeline"), row, event.seq);
    this.rows.set(event.seq, row);
    this.updateNote();
  }

  updateNote() {
    const shown = this.rows.size;
    const filtered = this.types.length ? ` of type ${this.types.join(", ")}` : "";
    note(shown ? `${plural(shown, "event")}${filtered} shown, newest first.` : `No events${filtered} yet.`);
  }
}

function isFatal(error) {
  return error instanceof ApiError && [400, 401, 403, 404].includes(error.status);
}

// Newest first: a live event usually goes on top, an older page at the bottom.
function insertBySeq(list, row, seq) {
  const first = list.firstElementChild;
  if (!first || Number(first.dataset.seq) < seq) return list.prepend(row);
  const last = list.lastElementChild;
  if (Number(last.dataset.seq) > seq) return list.append(row);
  for (const child of list.children) {
    if (Number(child.dataset.seq) < seq) return child.before(row);
  }
  list.append(row);
}

function renderEvent(event) {
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
    el("time", { class: "time", datetime: event.timestamp, title: event.timestamp }, formatTime(event.timestamp)),
    el("span", { class: "seq", title: "seq" }, `#${event.seq}`),
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

function showSession(session) {
  $("session-info").replaceChildren(
    el(
      "div",
      { class: "title" },
      el("h2", {}, session.session_type),
      statusBadge(session.status),
      el("code", { class: "id" }, session.id),
    ),
    el(
      "p",
      { class: "meta" },
      session.project_path ? `${session.project_path} · ` : "",
      `created ${new Date(session.created_at).toLocaleString()} · `,
      el("span", { id: "event-count", "data-count": session.event_count }, plural(session.event_count, "event")),
    ),
  );
  for (const item of document.querySelectorAll("#session-list li")) {
    if (item.dataset.id === session.id) {
      item.querySelector(".badge").replaceWith(statusBadge(session.status));
    }
  }
}

function renderTypeOptions(knownTypes, selected) {
  const options = [...knownTypes].sort().map((type) =>
    el(
      "label",
      { class: `option kind-${kindOf(type)}` },
      Object.assign(el("input", { type: "checkbox", value: type }), { checked: selected.includes(type) }),
      type,
    ),
  );
  $("type-options").replaceChildren(...options);
  $("type-filter").hidden = options.length === 0;
}

// --- the page ------------------------------------------------------------------------------

let watch = null;
let knownTypes = new Set();

function selectedFromUrl() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("session");
  const id = fromHash || new URLSearchParams(location.search).get("session");
  return id && UUID.test(id) ? id.toLowerCase() : null;
}

async function show(sessionId, types = []) {
  watch?.stop();
  watch = null;
  for (const item of document.querySelectorAll("#session-list li")) {
    item.classList.toggle("selected", item.dataset.id === sessionId);
  }
  if (!sessionId || !apiKey.get()) return;
  const current = new Watch(sessionId, types, knownTypes);
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
  if (error.status === 401) return askForKey("The server refused this key; enter another.");
  if (error.status === 404) return note(`There is no session ${sessionId} (it may have been deleted).`);
  note(`Could not show the session: ${error.message}`);
}

async function loadSessions() {
  if (!apiKey.get()) return;
  try {
    const page = await getJson(apiUrl("sessions", [["per_page", 50]]));
    const selected = selectedFromUrl();
    const items = page.items.map((session) => {
      const link = el(
        "a",
        { href: `#session=${session.id}` },
        el("span", { class: "type" }, session.session_type),
        statusBadge(session.status),
        el("span", { class: "meta" }, `${new Date(session.created_at).toLocaleString()} · ${plural(session.event_count, "event")}`),
        el("code", { class: "id" }, session.id.slice(0, 8)),
        session.project_path ? el("span", { class: "project" }, session.project_path) : null,
      );
      const item = el("li", { "data-id": session.id }, link);
      item.classList.toggle("selected", session.id === selected);
      return item;
    });
    $("session-list").replaceChildren(...items);
    const total = page.pagination.total;
    $("sessions-note").textContent = total
      ? `${plural(total, "session")}, newest first${total > items.length ? ` (the ${items.length} newest)` : ""}.`
      : "No sessions yet.";
  } catch (error) {
    if (error.status === 401) return askForKey("The server refused this key; enter another.");
    $("sessions-note").textContent = `Could not list sessions: ${error.message}`;
  }
}

function askForKey(message = "") {
  apiKey.clear();
  $("key-form").hidden = false;
  $("key-set").hidden = true;
  $("key-error").textContent = message;
  $("sessions-note").textContent = "Enter an API key to list sessions.";
  $("session-list").replaceChildren();
  $("api-key").focus();
}

function keyAccepted() {
  $("key-form").hidden = true;
  $("key-set").hidden = false;
  $("key-error").textContent = "";
}

function start() {
  $("key-form").addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    const key = $("api-key").value.trim();
    if (!key) return;
    apiKey.set(key);
    $("api-key").value = "";
    keyAccepted();
    loadSessions();
    show(selectedFromUrl());
  });
  $("forget-key").addEventListener("click", () => {
    watch?.stop();
    askForKey();
  });
  $("refresh-sessions").addEventListener("click", loadSessions);
  $("load-older").addEventListener("click", () =>
    watch?.loadOlder().catch((error) => failed(error, watch?.sessionId)),
  );
  $("type-options").addEventListener("change", () => {
    const types = [...document.querySelectorAll("#type-options input:checked")].map((i) => i.value);
    show(watch?.sessionId ?? selectedFromUrl(), types);
  });
  $("clear-filter").addEventListener("click", () => show(watch?.sessionId ?? selectedFromUrl(), []));
  window.addEventListener("hashchange", () => {
    knownTypes = new Set();
    renderTypeOptions(knownTypes, []);
    show(selectedFromUrl());
  });
  setInterval(loadSessions, SESSIONS_REFRESH_MS);
  if (apiKey.get()) {
    keyAccepted();
    loadSessions();
    show(selectedFromUrl());
  } else {
    askForKey();
  }
}

start();

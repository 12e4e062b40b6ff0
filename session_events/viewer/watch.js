// Following one session: the newest page, then live events by the stream (GET .../events/stream,
// resumed with Last-Event-ID) or, when the stream cannot be had but the API answers, by the
// contract's polling loop. A Watch keeps the cursor (the highest seq it has had), so nothing is
// missed or shown twice; what it finds it reports to a view (a RunPage, run-page.js), which draws.

import { ApiError, apiUrl, call, getJson, parseLinks } from "./api.js";
import { streamRefusal } from "./link-token.js";
import { readStream, sleep } from "./sse.js";
import { isTerminal } from "./statuses.js";

const PAGE_SIZE = 50;
const POLL_PAGE_SIZE = 100;
const POLL_MS = 2000; // the contract's recommended polling interval
// While polling, try the stream again after 3 s, then 6, 12, ... up to every 30 s: a stream that
// failed because the server was restarting comes back at once, a blocked one is not hammered.
const STREAM_FIRST_RETRY_MS = 3000;
const STREAM_AGAIN_MS = 30000;

// Answers that retrying cannot change: the page stops and says why.
function isFatal(error) {
  return error instanceof ApiError && [400, 401, 403, 404].includes(error.status);
}

export class Watch {
  constructor(sessionId, types, view) {
    this.sessionId = sessionId;
    this.types = types; // the event_type filter; empty: all
    this.view = view;
    this.abort = new AbortController();
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
    this.view.stop?.();
  }

  sessionUrl() {
    return apiUrl(`sessions/${encodeURIComponent(this.sessionId)}`);
  }

  // The session's events (`path` below it) with the event_type filter.
  url(path, params = []) {
    const id = encodeURIComponent(this.sessionId);
    return apiUrl(`sessions/${id}${path}`, [...params, ...this.types.map((t) => ["event_type", t])]);
  }

  get options() {
    return { signal: this.abort.signal };
  }

  async run() {
    this.view.start();
    // The newest page, then live from its latest_seq: nothing between the two is missed.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.loadFirstPage();
        if (this.view.target !== null) await this.goTo(this.view.target);
        break;
      } catch (error) {
        if (this.stopped || isFatal(error)) throw error;
        this.view.connection("reconnecting");
        await sleep(Math.min(1000 * attempt, 5000), this.abort.signal);
        if (this.stopped) return;
      }
    }
    await this.follow();
  }

  async readSession() {
    const session = await getJson(this.sessionUrl(), this.options);
    this.view.session(session);
    this.status = session.status;
    return session;
  }

  async loadFirstPage() {
    await this.readSession();
    const page = await this.readPage([["per_page", PAGE_SIZE]]);
    this.cursor = page.latest_seq;
    this.view.page(page.items, { replace: true, hasOlder: page.pagination.has_next });
  }

  // A page of the listing, newest first, with the type filter.
  async readPage(params) {
    return (await call(this.url("/events", params), this.options)).json();
  }

  // "Load older": the page below the oldest row shown. A seq bound rather than a page number,
  // so pages neither shift while new events arrive nor depend on the rows the page has dropped.
  async loadOlder() {
    const oldest = this.view.oldestSeq();
    if (oldest <= 1) return this.view.page([], { hasOlder: false });
    this.view.olderLoading(true);
    try {
      const page = await this.readPage([["until_seq", oldest - 1], ["per_page", PAGE_SIZE]]);
      this.view.page(page.items, { hasOlder: page.pagination.has_next });
    } finally {
      this.view.olderLoading(false);
    }
  }

  // The rows around `seq` (a link to one event), in place of those shown: newer rows above them
  // wait behind the "new events" button until asked for.
  async loadAround(seq) {
    const until = seq + Math.floor(PAGE_SIZE / 2);
    const page = await this.readPage([["until_seq", until], ["per_page", PAGE_SIZE]]);
    this.view.page(page.items, {
      replace: true,
      hasOlder: page.pagination.has_next,
      gapAbove: until < page.latest_seq,
    });
  }

  // Shows the event `seq` (a link to it was opened), loading the rows around it when needed.
  async goTo(seq) {
    if (this.view.focus(seq)) return;
    await this.loadAround(seq);
    if (!this.view.focus(seq)) this.view.missing(seq, this.types);
  }

  // The newest page again, in place of the rows shown (after a jump to an older event).
  async loadNewest() {
    const page = await this.readPage([["per_page", PAGE_SIZE]]);
    this.view.page(page.items, { replace: true, hasOlder: page.pagination.has_next, newest: true });
  }

  // Live: the stream; when it cannot be had but the API answers, cursor polling.
  async follow() {
    let transport = "stream";
    let failures = 0;
    let pollingSince = 0;
    let streamAgainMs = STREAM_FIRST_RETRY_MS;
    while (!this.stopped) {
      if (transport === "stream") {
        this.view.transport("stream");
        const outcome = await this.streamOnce();
        if (outcome === "finished") return this.view.connection("finished");
        if (outcome === "ended") {
          failures = 0;
          streamAgainMs = STREAM_FIRST_RETRY_MS;
          this.view.connection("reconnecting");
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
        this.view.connection("reconnecting");
        await sleep(Math.min(500 * 2 ** failures, this.retryMs), this.abort.signal);
      } else {
        this.view.transport("polling");
        const ok = await this.pollOnce();
        this.view.connection(ok ? "connected" : "reconnecting");
        if (ok && this.caughtUp && isTerminal(this.status)) return this.view.connection("finished");
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
    this.view.connection("connected");
    try {
      await readStream(response.body, (message) => this.onMessage(message), this.options);
    } catch (error) {
      if (this.stopped || isFatal(error)) throw error; // the token ran out: reconnecting cannot help
      return "ended";
    }
    // The server ends a stream once the session is over (or when it is shutting down).
    try {
      const session = await this.readSession();
      return isTerminal(session.status) ? "finished" : "ended";
    } catch (error) {
      if (this.stopped || isFatal(error)) throw error;
      return "ended";
    }
  }

  onMessage(message) {
    if (message.retry !== undefined) this.retryMs = message.retry;
    if (message.data === undefined) return; // the retry hint, heartbeats
    const refusal = streamRefusal(message);
    if (refusal !== null) throw new ApiError(401, refusal);
    this.add(JSON.parse(message.data));
  }

  // One round of the contract's polling loop: after the cursor, oldest first, revalidating with
  // the last ETag (304: nothing new), following rel="next" while has_next. False: no answer.
  async pollOnce() {
    try {
      let url = this.url("/events", [
        ["after_seq", this.cursor],
        ["order", "asc"],
        ["per_page", POLL_PAGE_SIZE],
      ]);
      let headers = this.etag ? { "If-None-Match": this.etag } : {};
      for (;;) {
        const response = await call(url, { ...this.options, headers });
        if (response.status === 304) {
          this.caughtUp = true;
          return true;
        }
        const page = await response.json();
        for (const event of page.items) this.add(event);
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

  // A live event (stream or poll): those at or below the cursor were replayed after a
  // reconnect and are already shown.
  add(event) {
    if (event.seq <= this.cursor) return;
    this.cursor = event.seq;
    // Any producer may append a look-alike: the session's own row says whether it moved.
    if (event.event_type === "status_changed") this.readSession().catch(() => {});
    this.view.live(event);
  }
}

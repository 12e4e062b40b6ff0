// The sessions page's live feed: GET /sessions/stream read with fetch (the key goes in X-API-Key,
// which EventSource cannot send), resumed with Last-Event-ID after a break. It reports what the
// server says happened; the page decides what to redraw or read again.

import { ApiError, apiUrl, call } from "./api.js";
import { readStream, sleep } from "./sse.js";

// The first snapshot's sessions: the statuses the page knows before any change arrives.
const SNAPSHOT_LIMIT = 100;
const MAX_BACKOFF_MS = 30000;

// Answers a retry cannot change.
const isFatal = (error) => error instanceof ApiError && [400, 401, 403].includes(error.status);

export class SessionsLive {
  // `on`: snapshot(items, reason), session(kind, session) with kind "created" or "updated",
  // deleted(id), state("connecting" | "live" | "reconnecting" | "stopped"), failed(error).
  constructor(on) {
    this.on = on;
    this.abort = new AbortController();
    this.lastEventId = null;
    this.retryMs = 3000;
  }

  get stopped() {
    return this.abort.signal.aborted;
  }

  stop() {
    this.abort.abort();
  }

  async run() {
    let failures = 0;
    this.on.state("connecting");
    while (!this.stopped) {
      try {
        await this.once();
        failures = 0; // the server ended it (a restart, a slow reader): resume at once
      } catch (error) {
        if (this.stopped) return;
        if (isFatal(error)) {
          this.on.state("stopped");
          return this.on.failed(error);
        }
        failures++;
      }
      this.on.state("reconnecting");
      const wait = failures ? Math.min(500 * 2 ** failures, MAX_BACKOFF_MS) : Math.min(this.retryMs, 1000);
      await sleep(wait, this.abort.signal);
    }
  }

  // One connection, read to its end.
  async once() {
    const headers = { Accept: "text/event-stream" };
    if (this.lastEventId !== null) headers["Last-Event-ID"] = this.lastEventId;
    const url = apiUrl("sessions/stream", [["limit", SNAPSHOT_LIMIT]]);
    const response = await call(url, { headers, signal: this.abort.signal });
    if (!(response.headers.get("Content-Type") || "").startsWith("text/event-stream")) {
      response.body?.cancel();
      throw new Error("the sessions stream answered something else than an event stream");
    }
    this.on.state("live");
    await readStream(response.body, (message) => this.onMessage(message), {
      signal: this.abort.signal,
    });
  }

  onMessage(message) {
    if (message.retry !== undefined) this.retryMs = message.retry;
    if (message.data === undefined) return; // the retry hint, heartbeats
    const data = JSON.parse(message.data);
    if (message.event === "snapshot") this.on.snapshot(data.items, data.reason);
    else if (message.event === "session_created") this.on.session("created", data);
    else if (message.event === "session_updated") this.on.session("updated", data);
    else if (message.event === "session_deleted") this.on.deleted(data.id);
    // Only once handled: a break in the middle resumes from the last event applied.
    if (message.id !== null) this.lastEventId = message.id;
  }
}

// A session's summary (GET /sessions/{id}/summary), kept fresh while its events arrive: re-read
// with If-None-Match (a 304 costs the server one counter read), at most once a second however
// fast events come, so a page of a busy run does not turn every event into a request; and at
// most once per ten times the last read took, so a huge run's summary (which the server counts
// over every event) costs its server a tenth of a core per page at most.

import { apiUrl, call } from "./api.js";

const MIN_INTERVAL_MS = 1000;
const COST_FACTOR = 10; // the pause after a read, in lengths of that read

export class SummaryFeed {
  // `onSummary(summary)` hears of each new one; `onError(error)` of a failed read.
  constructor(sessionId, { onSummary, onError = () => {}, signal }) {
    this.url = apiUrl(`sessions/${encodeURIComponent(sessionId)}/summary`);
    this.onSummary = onSummary;
    this.onError = onError;
    this.signal = signal;
    this.etag = null;
    this.lastRead = 0;
    this.gapMs = MIN_INTERVAL_MS;
    this.timer = null;
    this.reading = null;
    this.again = false;
  }

  // Something changed: read again now, or as soon as the gap since the last read has passed.
  poke() {
    if (this.signal?.aborted) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    const wait = Math.max(0, this.lastRead + this.gapMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.read();
    }, wait);
  }

  async read() {
    if (this.signal?.aborted) return;
    this.lastRead = Date.now();
    this.reading = (async () => {
      const headers = this.etag ? { "If-None-Match": this.etag } : {};
      const response = await call(this.url, { headers, signal: this.signal });
      if (response.status === 304) return;
      this.etag = response.headers.get("ETag");
      const summary = await response.json();
      this.gapMs = Math.max(MIN_INTERVAL_MS, COST_FACTOR * (Date.now() - this.lastRead));
      this.onSummary(summary);
    })();
    try {
      await this.reading;
    } catch (error) {
      if (!this.signal?.aborted) this.onError(error);
    } finally {
      this.reading = null;
      if (this.again) {
        this.again = false;
        this.poke();
      }
    }
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
  }
}

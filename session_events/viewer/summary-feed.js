// A session's summary (GET /sessions/{id}/summary), kept fresh while its events arrive: re-read
// with If-None-Match (a 304 costs the server one counter read), at most once a second however
// fast events come, so a page of a busy run does not turn every event into a request.

import { apiUrl, call } from "./api.js";

const MIN_INTERVAL_MS = 1000;

export class SummaryFeed {
  // `onSummary(summary)` hears of each new one; `onError(error)` of a failed read.
  constructor(sessionId, { onSummary, onError = () => {}, signal }) {
    this.url = apiUrl(`sessions/${encodeURIComponent(sessionId)}/summary`);
    this.onSummary = onSummary;
    this.onError = onError;
    this.signal = signal;
    this.etag = null;
    this.lastRead = 0;
    this.timer = null;
    this.reading = null;
    this.again = false;
  }

  // Something changed: read again now, or as soon as a second has passed since the last read.
  poke() {
    if (this.signal?.aborted) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    const wait = Math.max(0, this.lastRead + MIN_INTERVAL_MS - Date.now());
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
      this.onSummary(await response.json());
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

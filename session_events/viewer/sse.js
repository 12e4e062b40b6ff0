// Server-Sent Events read from a fetch() body. EventSource cannot send the X-API-Key or
// Authorization header (and neither a key nor a token may go in a URL), so the page reads the
// stream itself and parses the frames the way the HTML standard says: lines end at CR, LF or
// CRLF; a blank line dispatches; lines starting with ":" are comments (the server's heartbeats).

export class SseParser {
  constructor() {
    this.pending = "";
    this.reset();
  }

  reset() {
    this.data = [];
    this.event = "";
    this.id = null;
  }

  // Feeds decoded text; returns the complete messages it finished, in order. A message is
  // {id, event, data} (data joined with "\n"), {retry: ms}, or {comment: text}.
  feed(text) {
    this.pending += text;
    const messages = [];
    for (;;) {
      const cr = this.pending.indexOf("\r");
      const lf = this.pending.indexOf("\n");
      const cut = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
      if (cut < 0) break;
      // A CR at the very end may be the first half of a CRLF: wait for the next chunk.
      if (cut === cr && cut + 1 === this.pending.length) break;
      const end = this.pending.startsWith("\r\n", cut) ? cut + 2 : cut + 1;
      const line = this.pending.slice(0, cut);
      this.pending = this.pending.slice(end);
      const message = this.line(line);
      if (message) messages.push(message);
    }
    return messages;
  }

  line(line) {
    if (line === "") {
      if (!this.data.length) {
        this.reset();
        return null;
      }
      const message = { id: this.id, event: this.event || "message", data: this.data.join("\n") };
      this.reset();
      return message;
    }
    if (line.startsWith(":")) return { comment: line.slice(1).trim() };
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.id = value;
    else if (field === "retry" && /^[0-9]+$/.test(value)) return { retry: Number(value) };
    return null;
  }
}

// Reads a response body to its end, calling onMessage for each message. Resolves when the
// server closes the stream; rejects when the connection breaks or `signal` aborts. `idleMs`
// of complete silence (no event, no heartbeat) counts as a broken connection.
export async function readStream(body, onMessage, { signal, idleMs = 45000 } = {}) {
  const reader = body.getReader();
  const decoder = new TextDecoder("utf-8");
  const parser = new SseParser();
  let timer = null;
  const quiet = new Promise((_, reject) => {
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => reject(new Error(`no data for ${idleMs / 1000} s`)), idleMs);
    };
    reader.rearm = arm;
    arm();
  });
  quiet.catch(() => {}); // only ever awaited through the race below
  const abort = () => reader.cancel().catch(() => {});
  signal?.addEventListener("abort", abort, { once: true });
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), quiet]);
      if (done) break;
      reader.rearm();
      for (const message of parser.feed(decoder.decode(value, { stream: true }))) {
        onMessage(message);
      }
    }
    if (signal?.aborted) throw new DOMException("aborted", "AbortError");
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", abort);
    reader.cancel().catch(() => {});
  }
}

// A pause between two attempts to reconnect: `ms`, or less if `signal` aborts first.
export const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });

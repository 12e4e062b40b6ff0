// The header's two indicators of a live session: how it is followed (the stream, or polling when
// the stream is unavailable) and whether that is working.

import { byId } from "./dom.js";

const CONNECTION_TEXT = {
  connecting: "connecting…",
  connected: "connected",
  reconnecting: "reconnecting…",
  finished: "session finished",
  stopped: "stopped",
};

export function showConnection(state) {
  const node = byId("connection");
  node.dataset.state = state;
  node.textContent = CONNECTION_TEXT[state];
  byId("live").hidden = false;
}

export function showTransport(transport) {
  const node = byId("transport");
  node.dataset.transport = transport;
  node.textContent = transport === "stream" ? "live: stream (SSE)" : "live: polling every 2 s";
  node.title =
    transport === "stream"
      ? "GET …/events/stream, resumed with Last-Event-ID"
      : "GET …/events?after_seq=…&order=asc with If-None-Match, every 2 s (the stream is unavailable)";
}

// "Download": the whole session as NDJSON, from the listing's export (Accept:
// application/x-ndjson), fetched with the key (a plain link could not send X-API-Key) and handed
// to the browser as a file named session-<id>.ndjson.

import { apiUrl, call } from "./api.js";
import { byId, el } from "./dom.js";
import { plural } from "./format.js";

// `signal` ends it when the page moves on to another session.
export async function downloadSession(sessionId, signal) {
  const button = byId("download");
  const status = byId("download-note");
  button.disabled = true;
  status.textContent = "Preparing the download…";
  try {
    const url = apiUrl(`sessions/${encodeURIComponent(sessionId)}/events`);
    const response = await call(url, { headers: { Accept: "application/x-ndjson" }, signal });
    const blob = await response.blob();
    const href = URL.createObjectURL(blob);
    const link = el("a", { href, download: `session-${sessionId}.ndjson`, hidden: "" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(href), 60000); // the browser reads it after click()
    const events = response.headers.get("X-Latest-Seq");
    status.textContent = events ? `Downloaded ${plural(Number(events), "event")} as NDJSON.` : "Downloaded.";
  } catch (error) {
    if (signal?.aborted) return;
    status.textContent = `Could not download: ${error.message}`;
  } finally {
    button.disabled = false;
  }
}

// "Share" on a session's page: a read-only link to this one session, for a lifetime chosen from
// the menu. The server mints a read token (POST .../tokens; one minted with a link's own token
// ends no later than it, and expires_at says when), the link carries it in its fragment, which
// browsers never send, and it goes to the clipboard, or into a selected field when the browser
// refuses the clipboard, to be copied by hand.

import { apiUrl, call } from "./api.js";
import { byId } from "./dom.js";
import { formatInstant } from "./format.js";

// The page's own address, so a viewer served behind a path prefix shares links that open.
export const shareLink = (sessionId, token) =>
  `${location.origin}${location.pathname}#session=${sessionId}&token=${encodeURIComponent(token)}`;

async function share(sessionId, ttlSeconds) {
  const status = byId("share-note");
  const field = byId("share-link");
  byId("share").open = false;
  field.hidden = true;
  field.value = "";
  status.textContent = "Making a link…";
  let minted;
  try {
    const url = apiUrl(`sessions/${encodeURIComponent(sessionId)}/tokens`);
    const body = { scope: "read", ttl_seconds: ttlSeconds };
    const response = await call(url, { method: "POST", body });
    minted = await response.json();
  } catch (error) {
    status.textContent = `Could not make a link: ${error.message}`;
    return;
  }
  const link = shareLink(minted.session_id, minted.token);
  const until = `read-only, this session only, until ${formatInstant(minted.expires_at)}`;
  try {
    await navigator.clipboard.writeText(link);
    status.textContent = `Link copied to the clipboard: ${until}.`;
  } catch {
    status.textContent = `The browser refused the clipboard: copy the link below (${until}).`;
    field.value = link;
    field.hidden = false;
    field.focus();
    field.select();
  }
  status.dataset.expiresAt = minted.expires_at;
}

// `current()` is the id of the session shown (or null).
export function wireShare(current) {
  for (const button of byId("share").querySelectorAll("button[data-ttl]")) {
    button.addEventListener("click", () => {
      const sessionId = current();
      if (sessionId) share(sessionId, Number(button.dataset.ttl));
    });
  }
}

// Another session, or none: nothing of the last link is left on the page.
export function resetShare(offered) {
  byId("share").hidden = !offered;
  byId("share").open = false;
  byId("share-note").textContent = "";
  byId("share-link").hidden = true;
  byId("share-link").value = "";
}

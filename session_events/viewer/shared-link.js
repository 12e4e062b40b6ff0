// The page as a share link opens it: read-only on one session. The header says so and when the
// link ends (the token's exp claim, for people: the server decides), the key form and the ways
// to other sessions are not offered, and a link the server stopped accepting says so in a notice
// that stays, with the server's reason.

import { byId, el } from "./dom.js";
import { formatInstant } from "./format.js";

// `home` is the fragment of the link's own session, where the page's title now leads.
export function showLinkMode(claims, home) {
  byId("key-form").hidden = true;
  byId("key-set").hidden = true;
  byId("link-set").hidden = false;
  byId("link-notice").hidden = true; // another link opened in the tab: its own say
  const exp = Number(claims?.exp);
  byId("link-expiry").textContent = Number.isFinite(exp) && exp > 0
    ? `shared link, read-only · expires ${formatInstant(exp * 1000)}`
    : "shared link, read-only";
  byId("link-expiry").dataset.exp = Number.isFinite(exp) ? exp : "";
  byId("home").setAttribute("href", home);
  byId("back").hidden = true;
}

export function showLinkRefused(detail) {
  const notice = byId("link-notice");
  notice.replaceChildren(
    el("strong", {}, "This shared link no longer works. "),
    el("span", { id: "link-notice-detail" }, detail || "The server refused its token."),
    " Ask whoever shared it for a new one; this page is no longer updated.",
  );
  notice.hidden = false;
  byId("link-expiry").textContent = "shared link, no longer accepted";
}

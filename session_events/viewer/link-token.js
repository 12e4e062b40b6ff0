// The token of a share link (#session=<id>&token=<token>): read from the fragment, which
// browsers never send, and held here for this tab only (never in storage: whoever opens the
// link holds it, not the browser's profile). api.js sends it as Authorization: Bearer. Its
// claims are read only to say when the link ends; what it may do is the server's to decide.

const TOKEN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/; // a JWT: three base64url parts

let held = null; // {token, claims, refused}: `refused` is the server's detail once it said no

export function tokenInFragment(hash = location.hash) {
  const token = new URLSearchParams(hash.slice(1)).get("token");
  return token && TOKEN.test(token) ? token : null;
}

// The fragment's token becomes the tab's; another link opened in the tab starts afresh.
export function adoptToken(hash = location.hash) {
  const token = tokenInFragment(hash);
  if (token && token !== held?.token) held = { token, claims: readClaims(token), refused: null };
  return held !== null;
}

export const linkToken = {
  get: () => held?.token ?? "",
  claims: () => held?.claims ?? null,
  refused: () => held?.refused ?? null,
  refuse: (detail) => {
    if (held) held.refused = detail;
  },
};

// The payload of a JWT (base64url JSON), or null when it is not one.
export function readClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(part.padEnd(Math.ceil(part.length / 4) * 4, "=")));
    return claims && typeof claims === "object" ? claims : null;
  } catch {
    return null;
  }
}

// A fragment ("#session=...") carrying the tab's token too, so a reload of it still opens.
export function withToken(fragment) {
  const token = linkToken.get();
  if (!token || tokenInFragment(fragment)) return fragment;
  return `${fragment}&token=${encodeURIComponent(token)}`;
}

// The stream's last message when its token expired or was revoked: `event: auth_expired` with a
// Problem (401). An event a producer named auth_expired carries a seq, and is an event.
export function streamRefusal(message) {
  if (message.event !== "auth_expired") return null;
  try {
    const problem = JSON.parse(message.data);
    if (problem?.seq !== undefined || problem?.status !== 401) return null;
    return String(problem.detail || "The link's token is no longer accepted.");
  } catch {
    return null;
  }
}

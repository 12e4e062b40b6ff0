// The public API as the page uses it: the key from sessionStorage in X-API-Key, or a share link's
// token (link-token.js) as Authorization: Bearer, never in a URL; URLs relative to the page (so
// the viewer works behind a path prefix too), RFC 8288 links.

import { linkToken } from "./link-token.js";

const KEY_NAME = "session-events.api-key";
export const API = new URL("../api/v2/", document.baseURI);

export const apiKey = {
  get: () => sessionStorage.getItem(KEY_NAME) || "",
  set: (key) => sessionStorage.setItem(KEY_NAME, key),
  clear: () => sessionStorage.removeItem(KEY_NAME),
};

// A share link's token wins over a key the tab may hold: the link opens read-only, as shared.
export function credentials() {
  const token = linkToken.get();
  return token ? { Authorization: `Bearer ${token}` } : { "X-API-Key": apiKey.get() };
}

export const hasCredential = () => Boolean(linkToken.get() || apiKey.get());

// Told the server's detail when it refuses the link's token (expired, revoked), whichever
// request heard it first, so the page says so rather than go quietly stale.
let tokenRefused = () => {};
export function onTokenRefused(callback) {
  tokenRefused = callback;
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

// `path` is relative to /api/v2/ ("sessions/..."), or an absolute path from a Link header.
export function apiUrl(path, params = []) {
  const url = path.startsWith("/") ? new URL(path, document.baseURI) : new URL(path, API);
  for (const [name, value] of params) url.searchParams.append(name, String(value));
  return url;
}

// fetch() with the key or token; `body` is sent as JSON. Answers other than 2xx/304 become an
// ApiError carrying the problem's detail; the caller decides what a 401 or a 404 means.
export async function call(url, { method = "GET", body, headers = {}, signal } = {}) {
  const json = body === undefined ? {} : { "Content-Type": "application/json" };
  const response = await fetch(url, {
    method,
    headers: { ...credentials(), ...json, ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    cache: "no-store", // the page revalidates itself (If-None-Match) and must see 304s
  });
  if (!response.ok && response.status !== 304) {
    let detail = "";
    try {
      detail = (await response.json()).detail;
    } catch {
      // not a problem document (a proxy's page, say)
    }
    if (response.status === 401 && linkToken.get()) tokenRefused(detail);
    throw new ApiError(response.status, detail);
  }
  return response;
}

export async function getJson(url, options) {
  return (await call(url, options)).json();
}

// Link: <url>; rel="next", <url>; rel="first" -> {next: url, first: url}
export function parseLinks(header) {
  const links = {};
  for (const match of (header || "").matchAll(/<([^>]*)>\s*;\s*rel="?([^",;]+)"?/g)) {
    links[match[2]] = match[1];
  }
  return links;
}

// What the sessions page shows, as the fragment says it (`#status=failed&q=timeout&page=2`), so a
// view reloads and can be shared; and the GET /sessions query it stands for. The page only names
// the filters: which sessions match is the server's rule alone, never decided here.

export const PER_PAGE = 25;

// The created window's choices: fragment value, label, and its length.
export const CREATED_WINDOWS = [
  ["", "any time", 0],
  ["1h", "last hour", 3600e3],
  ["24h", "last 24 hours", 86400e3],
  ["7d", "last 7 days", 7 * 86400e3],
  ["30d", "last 30 days", 30 * 86400e3],
];
const WINDOW_MS = Object.fromEntries(CREATED_WINDOWS.map(([value, , ms]) => [value, ms]));

// The filters a person sets, by their fragment names (type and project are free text).
export const FILTERS = ["status", "type", "project", "q", "created"];

// The page's state from a fragment; values it cannot use fall back to "all" / page 1.
export function readFragment(hash = location.hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const state = Object.fromEntries(FILTERS.map((name) => [name, params.get(name) || ""]));
  if (!WINDOW_MS[state.created]) state.created = "";
  const page = Number.parseInt(params.get("page") || "", 10);
  state.page = page > 0 ? page : 1;
  return state;
}

export function fragmentOf(state) {
  const params = new URLSearchParams();
  for (const name of FILTERS) if (state[name]) params.set(name, state[name]);
  if (state.page > 1) params.set("page", String(state.page));
  const text = params.toString();
  return text ? `#${text}` : "#";
}

export const isFiltered = (state) => FILTERS.some((name) => state[name]);

export const cleared = () => ({ ...Object.fromEntries(FILTERS.map((n) => [n, ""])), page: 1 });

// GET /sessions' parameters for the state; the created window ends now.
export function listingParams(state, now = Date.now()) {
  const params = [
    ["per_page", PER_PAGE],
    ["page", state.page],
  ];
  if (state.status) params.push(["status", state.status]);
  if (state.type) params.push(["session_type", state.type]);
  if (state.project) params.push(["project_path", state.project]);
  if (state.q) params.push(["q", state.q]);
  if (state.created) {
    params.push(["created_after", new Date(now - WINDOW_MS[state.created]).toISOString()]);
  }
  return params;
}

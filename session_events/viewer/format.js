// How values read from the API are written for people: instants, durations, counts and the
// colour of an event type. Pure functions, so every page shows them the same way: one format
// for every instant (24-hour, date first, with the zone it is written in).

export const plural = (count, noun) => `${count} ${noun}${count === 1 ? "" : "s"}`;

const pad = (n, width = 2) => String(n).padStart(width, "0");

// The browser's zone at that instant as an offset from UTC: "UTC", "UTC+1", "UTC-5:30".
export function zoneOf(date) {
  const offset = -date.getTimezoneOffset(); // minutes east of UTC
  if (offset === 0) return "UTC";
  const sign = offset > 0 ? "+" : "-";
  const hours = Math.floor(Math.abs(offset) / 60);
  const minutes = Math.abs(offset) % 60;
  return `UTC${sign}${hours}${minutes ? `:${pad(minutes)}` : ""}`;
}

// An instant in the browser's zone: "2026-01-13 15:30:00 UTC+1", with `ms` to the millisecond
// ("2026-01-13 15:30:00.123 UTC+1"). The one format of every time the pages show.
export function formatInstant(timestamp, { ms = false } = {}) {
  const date = new Date(timestamp);
  if (timestamp === null || timestamp === undefined || Number.isNaN(date.getTime())) return "";
  const day = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  const fraction = ms ? `.${pad(date.getMilliseconds(), 3)}` : "";
  return `${day} ${time}${fraction} ${zoneOf(date)}`;
}

// A length of time as people say it: "850 ms", "4.2 s", "3 min 05 s", "2 h 04 min", "3 d 2 h".
export function formatDuration(milliseconds) {
  if (!Number.isFinite(milliseconds) || milliseconds < 0) return "";
  if (milliseconds < 1000) return `${Math.round(milliseconds)} ms`;
  const seconds = milliseconds / 1000;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.floor(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${pad(Math.floor(seconds % 60))} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${pad(minutes % 60)} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

// How long ago an instant was, from `now` (ms since the epoch): "just now", "5 min ago".
export function formatAge(timestamp, now = Date.now()) {
  const elapsed = now - new Date(timestamp).getTime();
  if (!Number.isFinite(elapsed)) return "";
  if (elapsed < 5000) return "just now";
  return `${formatDuration(elapsed).replace(/ \d+ (s|min|h)$/, "")} ago`;
}

// Colour of an event type: errors red, completed green, starts blue, the rest neutral. Red is
// wider than the summary's first_error (error, fail): a cancellation is shown as bad news but is
// not where a run went wrong.
export function kindOf(eventType) {
  if (/(error|fail|cancel)/.test(eventType)) return "error";
  if (/(warn|retry|paused)/.test(eventType)) return "warning";
  if (/(completed|succeeded|passed|done|finished)/.test(eventType)) return "success";
  if (/(started|created)/.test(eventType)) return "info";
  return "neutral";
}

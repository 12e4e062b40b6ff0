// How values read from the API are written for people: times, counts and the colour of an
// event type. Pure functions, so every page shows them the same way.

export const plural = (count, noun) => `${count} ${noun}${count === 1 ? "" : "s"}`;

// An event's time of day in the browser's zone, to the millisecond: HH:MM:SS.mmm.
export function formatTime(timestamp) {
  const date = new Date(timestamp);
  if (Number.isNaN(date.getTime())) return timestamp;
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  return (
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `.${pad(date.getMilliseconds(), 3)}`
  );
}

// A session's date and time, as the browser's locale writes them.
export const formatDateTime = (timestamp) => new Date(timestamp).toLocaleString();

// Colour of an event type: errors red, completed green, starts blue, the rest neutral.
export function kindOf(eventType) {
  if (/(error|fail|cancel)/.test(eventType)) return "error";
  if (/(warn|retry|paused)/.test(eventType)) return "warning";
  if (/(completed|succeeded|passed|done|finished)/.test(eventType)) return "success";
  if (/(started|created)/.test(eventType)) return "info";
  return "neutral";
}

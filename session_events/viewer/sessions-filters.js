// The sessions page's filter form: search, session type (free text, with the types seen offered),
// project path prefix and created window. Typing is debounced; each change reports the form's
// values, which the page puts in the fragment and sends to the server as they are.

import { byId, el } from "./dom.js";
import { CREATED_WINDOWS, isFiltered } from "./sessions-query.js";

const TYPING_MS = 300;
const TEXT_INPUTS = { q: "filter-q", type: "filter-type", project: "filter-project" };

const typesSeen = new Set();

function values() {
  const form = Object.fromEntries(
    Object.entries(TEXT_INPUTS).map(([name, id]) => [name, byId(id).value.trim()]),
  );
  form.created = byId("filter-created").value;
  return form;
}

// `onChange(values)` runs after a pause in typing, or at once for the created window;
// `onClear()` for either Clear button.
export function wireFilters(onChange, onClear) {
  byId("filter-created").replaceChildren(
    ...CREATED_WINDOWS.map(([value, label]) => el("option", { value }, label)),
  );
  let timer = null;
  const changed = () => {
    clearTimeout(timer);
    timer = null;
    onChange(values());
  };
  for (const id of Object.values(TEXT_INPUTS)) {
    byId(id).addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(changed, TYPING_MS);
    });
  }
  byId("sessions-filters").addEventListener("submit", (submitted) => {
    submitted.preventDefault(); // Enter: now, not after the pause
    changed();
  });
  byId("filter-created").addEventListener("change", changed);
  byId("clear-filters").addEventListener("click", () => {
    clearTimeout(timer);
    onClear();
  });
  byId("sessions-empty").addEventListener("click", (clicked) => {
    if (clicked.target.closest("[data-action=clear]")) onClear();
  });
}

// The form shows the state's filters, except in a box being typed in (its text is newer).
export function showFilters(state) {
  for (const [name, id] of Object.entries(TEXT_INPUTS)) {
    const input = byId(id);
    if (input !== document.activeElement && input.value.trim() !== state[name]) {
      input.value = state[name];
    }
  }
  byId("filter-created").value = state.created;
  byId("clear-filters").disabled = !isFiltered(state);
}

// Offers each session type seen so far in the type box's suggestions.
export function noteTypes(sessions) {
  const before = typesSeen.size;
  for (const session of sessions) typesSeen.add(session.session_type);
  if (typesSeen.size === before) return;
  byId("session-types").replaceChildren(
    ...[...typesSeen].sort().map((type) => el("option", { value: type })),
  );
}

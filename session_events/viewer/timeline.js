// One session on screen: its header, its events newest first, the event-type filter and the
// note under them. A Timeline is the view a Watch (watch.js) reports to; it only draws.

import { byId, el } from "./dom.js";
import { formatInstant, kindOf, plural } from "./format.js";
import { showConnection, showTransport } from "./live-status.js";
import { statusBadge } from "./statuses.js";

export function note(text) {
  byId("timeline-note").textContent = text;
}

function renderEvent(event) {
  const kind = kindOf(event.event_type);
  const data = event.event_data || {};
  const keys = Object.keys(data);
  const details = el(
    "details",
    { class: "data" },
    el("summary", {}, keys.length ? `event_data: ${keys.join(", ")}` : "event_data: {}"),
    el("pre", {}, JSON.stringify(data, null, 2)),
  );
  return el(
    "li",
    { class: `event kind-${kind}`, "data-seq": event.seq, "data-type": event.event_type },
    el("time", { class: "time", datetime: event.timestamp, title: event.timestamp }, formatInstant(event.timestamp, { ms: true })),
    el("span", { class: "seq", title: "seq" }, `#${event.seq}`),
    el("span", { class: `type kind-${kind}`, title: event.event_type }, event.event_type),
    el("span", { class: "message" }, event.message ?? ""),
    el(
      "span",
      { class: "step", title: event.step_id ? `step_id ${event.step_id}` : "no step" },
      event.step_id ? `step ${event.step_id.slice(0, 8)}` : "",
    ),
    details,
  );
}

// Newest first: a live event usually goes on top, an older page at the bottom.
function insertBySeq(list, row, seq) {
  const first = list.firstElementChild;
  if (!first || Number(first.dataset.seq) < seq) return list.prepend(row);
  const last = list.lastElementChild;
  if (Number(last.dataset.seq) > seq) return list.append(row);
  for (const child of list.children) {
    if (Number(child.dataset.seq) < seq) return child.before(row);
  }
  list.append(row);
}

// The filter's checkboxes: every event type seen in this session, `selected` ticked.
export function renderTypeOptions(knownTypes, selected) {
  const options = [...knownTypes].sort().map((type) =>
    el(
      "label",
      { class: `option kind-${kindOf(type)}` },
      Object.assign(el("input", { type: "checkbox", value: type }), { checked: selected.includes(type) }),
      type,
    ),
  );
  byId("type-options").replaceChildren(...options);
  byId("type-filter").hidden = options.length === 0;
}

export class Timeline {
  // `types`: the event_type filter (empty: all); `knownTypes`: the filter's options, a Set kept
  // by the page across filter changes; `onSession(session)`: a fresh read of the session.
  constructor(types, knownTypes, onSession = () => {}) {
    this.types = types;
    this.knownTypes = knownTypes;
    this.onSession = onSession;
  }

  start() {
    byId("timeline").replaceChildren();
    byId("load-older").hidden = true;
    showConnection("connecting");
  }

  connection(state) {
    showConnection(state);
  }

  transport(kind) {
    showTransport(kind);
  }

  session(session) {
    byId("session-info").replaceChildren(
      el(
        "div",
        { class: "title" },
        el("h2", {}, session.session_type),
        statusBadge(session.status),
        el("code", { class: "id" }, session.id),
      ),
      el(
        "p",
        { class: "meta" },
        session.project_path ? `${session.project_path} · ` : "",
        `created ${formatInstant(session.created_at)} · `,
        el("span", { id: "event-count", "data-count": session.event_count }, plural(session.event_count, "event")),
      ),
    );
    this.onSession(session);
  }

  // A status_changed event moved the session on: the header's badge follows.
  status(status) {
    const badge = document.querySelector("#session-info .badge");
    if (badge) badge.replaceWith(statusBadge(status));
  }

  // An event not shown yet; `live` ones are highlighted as new.
  event(event, live) {
    if (!this.knownTypes.has(event.event_type)) {
      this.knownTypes.add(event.event_type);
      renderTypeOptions(this.knownTypes, this.types);
    }
    const count = byId("event-count");
    if (count && Number(count.dataset.count) < event.seq) {
      count.dataset.count = event.seq; // seq is 1, 2, 3, ...: the newest one is the count
      count.textContent = plural(event.seq, "event");
    }
    const row = renderEvent(event);
    if (live) row.classList.add("new");
    insertBySeq(byId("timeline"), row, event.seq);
  }

  shown(count) {
    const filtered = this.types.length ? ` of type ${this.types.join(", ")}` : "";
    note(count ? `${plural(count, "event")}${filtered} shown, newest first.` : `No events${filtered} yet.`);
  }

  olderAvailable(available) {
    byId("load-older").hidden = !available;
  }

  olderLoading(loading) {
    byId("load-older").disabled = loading;
  }
}

// A session's events on screen, newest first: the rows, the event-type filter, the note under
// them, following (the newest kept in view) or paused (new events wait behind a button), and the
// event a link names, marked. At most MAX_ROWS rows are in the page, however long the session:
// older ones are loaded on demand and rows past the bound are dropped from the far end.

import { byId, el } from "./dom.js";
import { insertBySeq, renderEvent } from "./event-row.js";
import { kindOf, plural } from "./format.js";

export const MAX_ROWS = 500;

export function note(text) {
  byId("timeline-note").textContent = text;
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

let following = true; // kept across filter changes and sessions, as the user set it

export class Timeline {
  // `types`: the event_type filter (empty: all); `knownTypes`: the filter's options, a Set kept
  // by the page across filter changes.
  constructor(types, knownTypes) {
    this.types = types;
    this.knownTypes = knownTypes;
    this.pending = []; // live events held while paused (or while newer rows are not loaded)
    this.missed = 0; // held events dropped past the bound: the newest page has them
    this.gapAbove = false; // rows newer than the top one exist but are not loaded
    this.target = null; // the seq a link names
  }

  get list() {
    return byId("timeline");
  }

  get rowCount() {
    return this.list.children.length;
  }

  oldestSeq() {
    return Number(this.list.lastElementChild?.dataset.seq ?? 0);
  }

  clear() {
    this.list.replaceChildren();
    this.pending = [];
    this.missed = 0;
    this.gapAbove = false;
    byId("load-older").hidden = true;
    this.showFollow();
  }

  learnType(type) {
    if (this.knownTypes.has(type)) return;
    this.knownTypes.add(type);
    renderTypeOptions(this.knownTypes, this.types);
  }

  // A page read from the listing: `replace` the rows shown (`gapAbove`: newer rows exist that
  // are not loaded), or add older ones; `hasOlder`: more below; `newest`: the newest page, which
  // the held live events join.
  showPage(events, { replace = false, hasOlder = false, gapAbove = false, newest = false } = {}) {
    const held = this.pending;
    if (replace) this.clear();
    this.addPage(events);
    if (replace) this.gapAbove = gapAbove;
    if (newest) held.forEach((event) => this.insert(event, true));
    else if (replace) this.pending = held;
    this.olderAvailable(this.trim("bottom") || hasOlder);
    this.shown();
    this.showFollow();
    if (replace && this.target !== null) this.focus(this.target);
  }

  // Events of a page (not live): in place by seq; older ones trim from the top when past the bound.
  addPage(events) {
    for (const event of events) this.insert(event, false);
    this.trim("top");
  }

  // A live event: on top while following, held behind the "new events" button while paused.
  addLive(event) {
    this.learnType(event.event_type);
    if (!following || this.gapAbove) {
      this.pending.push(event);
      if (this.pending.length > MAX_ROWS) {
        this.pending.shift();
        this.missed++;
      }
      return this.showFollow();
    }
    this.insert(event, true);
    if (this.trim("bottom")) this.olderAvailable(true);
    this.list.scrollTop = 0;
  }

  insert(event, live) {
    this.learnType(event.event_type);
    if (this.list.querySelector(`li[data-seq="${event.seq}"]`)) return;
    const row = renderEvent(event);
    if (live) row.classList.add("new");
    if (event.seq === this.target) mark(row);
    insertBySeq(this.list, row, event.seq);
  }

  // Past the bound: drops the oldest rows (then older can be loaded again) or the newest ones
  // (then the newest are behind the "new events" button).
  trim(end) {
    let dropped = false;
    while (this.rowCount > MAX_ROWS) {
      (end === "bottom" ? this.list.lastElementChild : this.list.firstElementChild).remove();
      dropped = true;
    }
    if (dropped && end === "top") this.gapAbove = true;
    return dropped;
  }

  // The held events, shown; false when newer rows are missing and the newest page must be read.
  release() {
    if (this.gapAbove || this.missed) return false;
    for (const event of this.pending) this.insert(event, true);
    this.pending = [];
    if (this.trim("bottom")) this.olderAvailable(true);
    this.list.scrollTop = 0;
    this.showFollow();
    this.shown();
    return true;
  }

  setFollowing(on) {
    following = on;
    this.showFollow();
  }

  get following() {
    return following;
  }

  showFollow() {
    const toggle = byId("follow");
    toggle.setAttribute("aria-pressed", String(following));
    toggle.textContent = following ? "Following newest" : "Paused";
    toggle.title = following ? "New events appear on top; press to pause" : "Press to follow the newest events";
    const waiting = this.pending.length + this.missed;
    const button = byId("new-events");
    button.hidden = waiting === 0 && !this.gapAbove;
    button.dataset.count = waiting;
    button.textContent = waiting ? `${plural(waiting, "new event")} ↑` : "Show the newest events ↑";
  }

  // Marks the row of `seq` (a class and aria-current) and scrolls it into view.
  focus(seq) {
    this.target = seq;
    for (const old of this.list.querySelectorAll(".target")) {
      old.classList.remove("target");
      old.removeAttribute("aria-current");
    }
    const row = this.list.querySelector(`li[data-seq="${seq}"]`);
    if (!row) return false;
    mark(row);
    row.scrollIntoView({ block: "center" });
    return true;
  }

  shown() {
    const filtered = this.types.length ? ` of type ${this.types.join(", ")}` : "";
    const count = this.rowCount;
    note(count ? `${plural(count, "event")}${filtered} shown, newest first.` : `No events${filtered} yet.`);
  }

  olderAvailable(available) {
    byId("load-older").hidden = !available;
  }

  olderLoading(loading) {
    byId("load-older").disabled = loading;
  }
}

function mark(row) {
  row.classList.add("target");
  row.setAttribute("aria-current", "true");
}

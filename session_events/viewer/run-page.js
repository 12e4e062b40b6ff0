// A session's page (#session=<id>): the view a Watch (watch.js) reports to. It draws the header
// (run-header.js), the timeline (timeline.js), and from the summary, re-read while events arrive
// (summary-feed.js), the steps (steps.js) and the charts (charts.js).

import { renderCharts } from "./charts.js";
import { byId } from "./dom.js";
import { downloadSession } from "./download.js";
import { showConnection, showTransport } from "./live-status.js";
import { headerCount, renderHeader, stopHeader } from "./run-header.js";
import { clearSteps, renderSteps } from "./steps.js";
import { SummaryFeed } from "./summary-feed.js";
import { Timeline, note } from "./timeline.js";
import { clearSearch, search, searchMore } from "./timeline-search.js";

export class RunPage {
  // `onSession(session)` hears of each fresh read of the session (the sessions list follows).
  constructor(sessionId, types, knownTypes, { onSession = () => {}, target = null } = {}) {
    this.sessionId = sessionId;
    this.timeline = new Timeline(types, knownTypes);
    this.onSession = onSession;
    this.target = target; // the seq the link that opened the page names, if any
    this.abort = new AbortController();
    this.lastSummary = null;
    this.summary = new SummaryFeed(sessionId, {
      signal: this.abort.signal,
      onSummary: (summary) => this.drawSummary(summary),
      onError: () => {}, // the next event tries again; the timeline says what is wrong
    });
  }

  stop() {
    this.abort.abort();
    this.summary.stop();
    stopHeader();
  }

  start() {
    this.timeline.clear();
    clearSearch();
    clearSteps();
    byId("run-charts").hidden = true;
    showConnection("connecting");
    this.summary.read();
  }

  drawSummary(summary) {
    this.lastSummary = summary;
    renderHeader(summary.session, summary.first_error);
    this.onSession(summary.session);
    // The filter offers every type of the session, not only those of the rows loaded.
    for (const row of summary.event_types) this.timeline.learnType(row.event_type);
    renderSteps(summary, this.sessionId, this.abort.signal);
    renderCharts(summary);
  }

  connection(state) {
    showConnection(state);
    if (state === "finished") this.summary.poke(); // its completed_at and final counts
  }

  transport(kind) {
    showTransport(kind);
  }

  session(session) {
    renderHeader(session);
    this.onSession(session);
  }

  // A link named an event the timeline does not hold (none such, or not of the types chosen).
  missing(seq, types) {
    const filtered = types.length ? ` of type ${types.join(", ")}` : "";
    note(`There is no event #${seq}${filtered} in this session.`);
  }

  live(event) {
    headerCount(event.seq);
    this.timeline.addLive(event);
    this.timeline.shown();
    this.summary.poke();
  }

  // A page of events read by the Watch (see Timeline.showPage).
  page(events, options) {
    this.timeline.showPage(events, options);
  }

  // Marks the event `seq` in the timeline and pauses following, so new events do not move it
  // out of view. False when its row is not loaded.
  focus(seq) {
    clearSearch(); // a search result's link was followed: the timeline is shown at it
    this.timeline.setFollowing(false);
    return this.timeline.focus(seq);
  }

  oldestSeq() {
    return this.timeline.oldestSeq();
  }

  olderLoading(loading) {
    this.timeline.olderLoading(loading);
  }
}

// The page's controls, wired once; `current()` is the Watch of the session shown (or null).
export function wireRunPage(current, failed) {
  // Following again: the held events on top, or the newest page when rows are missing above.
  const newest = async () => {
    const watch = current();
    if (!watch) return;
    watch.view.timeline.setFollowing(true);
    if (!watch.view.timeline.release()) await watch.loadNewest().catch(failed);
  };
  byId("new-events").addEventListener("click", newest);
  byId("follow").addEventListener("click", () => {
    const timeline = current()?.view.timeline;
    if (timeline?.following) timeline.setFollowing(false);
    else newest();
  });
  byId("download").addEventListener("click", () => {
    const watch = current();
    if (watch) downloadSession(watch.sessionId, watch.view.abort.signal);
  });
  byId("search-form").addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    const watch = current();
    if (watch) search(watch.sessionId, byId("search-input").value.trim(), watch.types);
  });
  byId("search-clear").addEventListener("click", () => {
    byId("search-input").value = "";
    clearSearch();
  });
  byId("search-more").addEventListener("click", searchMore);
  // The charts are drawn at their boxes' widths: again when those change.
  let resized = null;
  window.addEventListener("resize", () => {
    clearTimeout(resized);
    resized = setTimeout(() => {
      const summary = current()?.view.lastSummary;
      if (summary) renderCharts(summary);
    }, 200);
  });
}

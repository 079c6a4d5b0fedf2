// jobline-web: the little script the pages need. Live progress from Server-Sent Events
// (/events), a confirmation before a kill, dependencies ticked on the upload form.
// Text from the server is only ever set with textContent, never as HTML.
"use strict";

function updateStep(row, s) {
  const state = row.querySelector(".state");
  if (state) { state.textContent = s.state; state.className = "state " + s.state; }
  const bar = row.querySelector("progress");
  if (bar) { bar.value = s.percent; bar.textContent = s.percent + " %"; }
  const set = (cls, text) => { const e = row.querySelector("." + cls); if (e) e.textContent = text; };
  set("pct", s.percent + " %");
  set("items", s.items);
  set("rate", s.rate);
  set("eta", s.eta);
  set("secs", s.secs);
  set("endtext", s.endtext);
  set("start", s.start);
  set("end", s.end);
  if (s.state === "completed" || s.state === "failed")
    row.querySelectorAll("form").forEach((f) => f.remove());
}

// What the user is typing in the live part (a kill's reason) survives its being replaced by a
// fragment: the text fields' values, by step, action and name, and which of them had the focus
// (with the caret), are put back into the new ones.
function fieldKey(input) {
  const f = input.form;
  const value = (name) => (f && f.elements[name] ? f.elements[name].value : "");
  return value("jq") + "/" + value("op") + "/" + input.name;
}
function keepTyping(live) {
  const fields = () => live.querySelectorAll('form input[name]:not([type="hidden"])');
  const values = new Map();
  let focus = null;
  fields().forEach((i) => {
    if (i.value) values.set(fieldKey(i), i.value);
    if (i === document.activeElement)
      focus = { key: fieldKey(i), start: i.selectionStart, end: i.selectionEnd };
  });
  return () => {
    fields().forEach((i) => {
      const key = fieldKey(i);
      if (values.has(key)) i.value = values.get(key);
      if (focus && focus.key === key) {
        i.focus();
        if (focus.start !== null) i.setSelectionRange(focus.start, focus.end);  // not on all types
      }
    });
  };
}

// While a fragment is on its way, the events that arrive are kept (the latest per step): the
// fragment may have been read before them, and nothing would send them again (events follow
// the database's NOTIFYs; nothing re-reads the steps). They are applied again once it is in.
let refetching = false;
let during = null;
function refetch(live) {
  if (refetching) return;
  refetching = true;
  during = new Map();
  fetch(live.dataset.fragment, { credentials: "same-origin" })
    .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
    .then((html) => {
      // The fragment is the server's own escaped HTML for this part of the page.
      const doc = new DOMParser().parseFromString("<div>" + html + "</div>", "text/html");
      const restore = keepTyping(live);
      live.replaceChildren(...doc.body.firstChild.childNodes);
      restore();
    })
    .catch(() => {})
    .finally(() => {
      refetching = false;
      const missed = during;
      during = null;
      missed.forEach((s) => apply(live, s));
    });
}

function apply(live, s) {
  if (during) during.set(s.jq, s);
  const rows = live.querySelectorAll('[data-jq="' + Number(s.jq) + '"]');
  if (rows.length) {
    rows.forEach((row) => updateStep(row, s));
  } else if (document.body.dataset.live === "jobs" ||
             (live.dataset.job && Number(live.dataset.job) === s.job)) {
    refetch(live);  // a step or job this page does not show yet
  }
}

function follow() {
  const live = document.getElementById("live");
  if (!live || !window.EventSource) return;
  const source = new EventSource("/events");
  source.addEventListener("step", (e) => {
    apply(live, JSON.parse(e.data));
    document.body.dataset.updated = String(Date.now());
  });
  // Changes between the page's rendering and this connection (or while it was broken) came
  // with no event to this page: read the live part again each time the stream (re)opens.
  // The server's database connection came back: changes meanwhile came with no event either.
  source.addEventListener("resync", () => refetch(live));
  source.addEventListener("open", () => {
    refetch(live);
    document.body.dataset.connected = "1";
  });
}

// One listener for the whole page (submit bubbles): forms that a refetch puts into the live part
// later ask too.
function confirmKills() {
  document.addEventListener("submit", (e) => {
    const f = e.target;
    if (f instanceof HTMLFormElement && f.dataset.confirm && !window.confirm(f.dataset.confirm))
      e.preventDefault();
  });
}

// Ticking an agent ticks what it depends on (data-depends: names, space-separated).
function dependencies() {
  const boxes = document.querySelectorAll('input[type="checkbox"][name="agent"]');
  const byName = new Map();
  boxes.forEach((b) => byName.set(b.value, b));
  const tick = (b) => {
    (b.dataset.depends || "").split(" ").filter(Boolean).forEach((d) => {
      const dep = byName.get(d);
      if (dep && !dep.checked) { dep.checked = true; tick(dep); }
    });
  };
  boxes.forEach((b) => b.addEventListener("change", () => { if (b.checked) tick(b); }));
}

document.addEventListener("DOMContentLoaded", () => {
  follow();
  confirmKills();
  dependencies();
});

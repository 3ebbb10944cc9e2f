// Scribe's web workspace: live updates of an open incident page, and nothing else that a page
// needs to work (every form works without this script).
"use strict";

(function () {
  const root = document.getElementById("incident");
  if (!root || !window.EventSource) {
    return;
  }
  const note = document.getElementById("live-note");

  // Someone is typing: a field that has focus or whose value differs from what the page gave.
  function typing() {
    const active = document.activeElement;
    if (active && root.contains(active) && active.matches("input, textarea, select")) {
      return true;
    }
    return Array.from(root.querySelectorAll("input:not([type=hidden]), textarea")).some(
      (field) => field.value !== field.defaultValue,
    );
  }

  // Fetch the page again and swap the incident in, keeping the open details and the scroll.
  async function refresh() {
    const response = await fetch(window.location.pathname, { credentials: "same-origin" });
    if (!response.ok) {
      return;
    }
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("incident");
    if (!fresh) {
      return;
    }
    const open = Array.from(root.querySelectorAll("details[open]")).map((d) => d.id || d.querySelector("summary")?.textContent);
    const scroll = window.scrollY;
    root.replaceChildren(...Array.from(fresh.childNodes));
    root.querySelectorAll("details").forEach((d) => {
      const key = d.id || d.querySelector("summary")?.textContent;
      if (open.includes(key)) {
        d.open = true;
      }
    });
    window.scrollTo(0, scroll);
    root.dataset.refreshed = String(Number(root.dataset.refreshed || "0") + 1);
  }

  const live = new EventSource(root.dataset.live);
  live.addEventListener("change", () => {
    if (typing()) {
      note.hidden = false;
    } else {
      refresh().catch(() => { note.hidden = false; });
    }
  });
  document.addEventListener("click", (event) => {
    if (event.target.closest("#live-note a")) {
      event.preventDefault();
      note.hidden = true;
      refresh().catch(() => window.location.reload());
    }
  });
})();

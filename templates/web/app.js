// Scribe's web workspace: live updates of an open incident page, and nothing else that a page
// needs to work (every form works without this script).
"use strict";

// Unsaved text survives a reload: each field's text is kept in local storage, per page and
// field, until its form is sent.
(function () {
  const root = document.getElementById("incident");
  if (!root || !window.localStorage) {
    return;
  }
  const key = (field) => {
    const form = field.form;
    const hidden = form
      ? Array.from(form.querySelectorAll("input[type=hidden]:not([name=csrf])")).map((i) => i.value).join("/")
      : "";
    return "scribe:" + window.location.pathname + ":" + (form ? form.getAttribute("action") : "") + ":" + hidden + ":" + field.name;
  };
  const fields = () => Array.from(root.querySelectorAll("form input:not([type=hidden]), form textarea"));
  fields().forEach((field) => {
    const kept = window.localStorage.getItem(key(field));
    if (kept !== null && kept !== field.value) {
      field.value = kept;
    }
  });
  root.addEventListener("input", (event) => {
    const field = event.target;
    if (field.form && field.name) {
      window.localStorage.setItem(key(field), field.value);
    }
  });
  root.addEventListener("submit", (event) => {
    Array.from(event.target.elements).forEach((field) => {
      if (field.name) {
        window.localStorage.removeItem(key(field));
      }
    });
  });
})();

(function () {
  const root = document.getElementById("incident");
  if (!root || !window.EventSource) {
    return;
  }
  const note = () => document.getElementById("live-note");

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

  let live = null;
  function listen() {
    live = new EventSource(root.dataset.live);
    live.addEventListener("change", () => {
      if (typing()) {
        note().hidden = false;
      } else {
        refresh().catch(() => { note().hidden = false; });
      }
    });
  }
  listen();
  window.addEventListener("pagehide", () => live.close());
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) {
      listen();
      refresh().catch(() => { note().hidden = false; });
    }
  });
  document.addEventListener("click", (event) => {
    if (event.target.closest("#live-note a")) {
      event.preventDefault();
      note().hidden = true;
      refresh().catch(() => window.location.reload());
    }
  });
})();

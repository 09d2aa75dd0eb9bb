// elevator console: progressive enhancement only. Every page works without this script;
// with it, grant countdowns tick, the approvals inbox refreshes itself, and the request form
// previews what policy would say. Same-origin requests only; it never posts anything.
"use strict";

function formatRemaining(seconds) {
  if (seconds <= 0) return "ended";
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  return (h ? h + "h " : "") + (h || m ? m + "m " : "") + s + "s left";
}

function tickCountdowns() {
  for (const element of document.querySelectorAll("[data-expires]")) {
    const left = Math.round((Date.parse(element.dataset.expires) - Date.now()) / 1000);
    element.textContent = formatRemaining(left);
  }
}

function rowIds(container) {
  return Array.from(container.querySelectorAll("[data-id]")).map((row) => row.dataset.id).join(",");
}

function pollInbox(inbox) {
  const refresh = async () => {
    try {
      const response = await fetch(inbox.dataset.poll, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) return;
      const template = document.createElement("template");
      template.innerHTML = await response.text();
      // Replace only when the set of waiting elevations changed, so a comment being typed survives.
      if (rowIds(template.content) !== rowIds(inbox)) {
        inbox.replaceChildren(template.content);
        const stamp = document.getElementById("inbox-updated");
        if (stamp) stamp.textContent = "updated " + new Date().toLocaleTimeString();
      }
    } catch (_) { /* the next poll tries again */ }
  };
  setInterval(refresh, 2000);
}

function previewRequests(form, target) {
  let timer = null;
  const preview = async () => {
    const query = new URLSearchParams();
    for (const name of ["role", "scope", "duration", "reason", "ticket", "start"]) {
      const field = form.elements.namedItem(name);
      if (field) query.set(name, field.value);
    }
    try {
      const response = await fetch("/console/request/preview?" + query.toString(), { credentials: "same-origin" });
      target.innerHTML = await response.text();
    } catch (_) { /* keep the last preview */ }
  };
  form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(preview, 300); });
  preview();
}

document.addEventListener("DOMContentLoaded", () => {
  tickCountdowns();
  setInterval(tickCountdowns, 1000);
  const inbox = document.getElementById("inbox");
  if (inbox && inbox.dataset.poll) pollInbox(inbox);
  const form = document.getElementById("request-form");
  const target = document.getElementById("preview");
  if (form && target) previewRequests(form, target);
});

// The dashboard's only script: the live console of a running run and the live run list.
// Everything else works without it (the pages are complete HTML).
"use strict";

const ANSI = /\x1b\[[0-9;?]*[ -\/]*[@-~]/g;
const plain = (text) => String(text || "").replace(ANSI, "");

// One event (as the service's /stream sends it) as console text, like the CLI prints it.
function eventText(event) {
  const d = event.data || {};
  switch (event.type) {
    case "stream":
      return plain(d.text);
    case "display": {
      if (d.output_type === "update_display_data") return "";
      const bundle = d.data || {};
      const image = Object.keys(bundle).find((k) => k.startsWith("image/"));
      if (image) return "[" + image + " output]\n";
      if ("text/plain" in bundle) {
        const t = bundle["text/plain"];
        return plain(Array.isArray(t) ? t.join("") : t) + "\n";
      }
      return "[" + (Object.keys(bundle).sort().join(", ") || "empty") + " output: see report.html]\n";
    }
    case "error":
      if (d.source === "engine") return "jenkins-kernel: " + d.ename + ": " + d.evalue + "\n";
      return plain((d.traceback || []).join("\n") || d.ename + ": " + d.evalue) + "\n";
    case "cell":
      if (d.phase === "start") return "[cell " + d.number + "/" + d.total + "] " + (d.title || "") + "\n";
      if (d.phase === "skipped") return "[cell " + d.number + "/" + d.total + "] skipped (" + d.reason + ")\n";
      return "";
    case "status":
      if (d.exit_code === undefined || d.exit_code === null) return "";
      return "jenkins-kernel: " + d.status + " (exit code " + d.exit_code + ")" + (d.message ? ": " + d.message : "") + "\n";
    default:
      return "";
  }
}

function followConsole(pre) {
  const url = new URL(pre.dataset.streamUrl, location.href);
  url.searchParams.set("after", pre.dataset.after || "0");
  const flag = document.getElementById("console-live");
  const status = document.getElementById("run-status");
  const source = new EventSource(url); // reconnects by itself, resuming with Last-Event-ID
  const append = (e) => {
    const event = JSON.parse(e.data);
    const text = eventText(event);
    if (event.type === "status" && status && event.data.status) {
      status.textContent = event.data.status.replace("_", " ");
      status.className = "pill big " + event.data.status;
    }
    if (!text) return;
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
    pre.append(text);
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  };
  for (const type of ["stream", "display", "error", "cell", "status"]) source.addEventListener(type, append);
  source.addEventListener("open", () => { if (flag) flag.hidden = false; });
  source.addEventListener("end", () => {
    source.close();
    if (flag) flag.hidden = true;
    setTimeout(() => location.reload(), 400); // the finished run: cells, artifacts, report, metrics
  });
  pre.scrollTop = pre.scrollHeight;
}

function followRunList(body) {
  const flag = document.getElementById("live-flag");
  if (flag) flag.hidden = false;
  let busy = false;
  setInterval(async () => {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const response = await fetch(body.dataset.rowsUrl, { credentials: "same-origin" });
      if (response.ok) {
        const html = await response.text();
        if (html !== body.dataset.last) {
          body.innerHTML = html;
          body.dataset.last = html;
        }
      }
    } finally {
      busy = false;
    }
  }, 2000);
}

document.addEventListener("DOMContentLoaded", () => {
  const pre = document.getElementById("console");
  if (pre && pre.dataset.streamUrl) followConsole(pre);
  const rows = document.getElementById("run-rows");
  if (rows && rows.dataset.rowsUrl) followRunList(rows);
});

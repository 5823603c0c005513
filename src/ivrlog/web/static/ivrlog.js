// ivrlog's pages: times in the browser's time zone, the time presets, empty filters left
// out of the URL, "copy", and the reports' charts drawn from their tables. Every page
// works without it; it only adds to what the server sends.
"use strict";

function localTimes(root) {
  for (const el of root.querySelectorAll("time[datetime]")) {
    if (el.dataset.local) continue;
    const when = new Date(el.getAttribute("datetime"));
    if (isNaN(when)) continue;
    el.dataset.local = "1";
    el.title = el.getAttribute("datetime").replace("T", " ").replace("Z", " UTC");
    el.textContent = when.toLocaleString();
  }
}

function presets(root) {
  for (const select of root.querySelectorAll("select[data-sets]")) {
    const input = document.getElementById(select.dataset.sets);
    select.addEventListener("change", () => {
      if (select.value !== "custom") input.value = select.value;
      input.focus();
    });
  }
}

function withoutEmpty(root) {
  for (const form of root.querySelectorAll("form[method=get]")) {
    form.addEventListener("submit", () => {
      for (const field of form.elements) {
        if (field.name && field.value === "") field.disabled = true;
      }
      setTimeout(() => { for (const field of form.elements) field.disabled = false; }, 0);
    });
  }
}

function copyButtons(root) {
  for (const button of root.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", async () => {
      const text = document.getElementById(button.dataset.copy).textContent;
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = "Copied";
      } catch (e) {
        button.textContent = "Select the text to copy it";
      }
    });
  }
}

function tableData(table) {
  const rows = [...table.tBodies[0].rows].filter((r) => r.cells.length > 1);
  return rows.map((r) => [...r.cells].map((c) => c.textContent.trim()));
}

const COLORS = ["#0b57d0", "#b3261e", "#8a5300", "#146c2e", "#6750a4"];

function charts(root) {
  if (typeof Chart === "undefined") return;
  for (const table of root.querySelectorAll("table[data-chart]")) {
    const canvas = document.getElementById(table.id + "-chart");
    const rows = tableData(table);
    if (!canvas || !rows.length) continue;
    const labels = rows.map((r) => r[0]);
    const column = (i) => rows.map((r) => Number(r[i]) || 0);
    const kind = table.dataset.chart;
    let datasets;
    if (kind === "funnel") {
      datasets = [
        { label: "Reached", data: column(1), backgroundColor: COLORS[0] },
        { label: "Ended here", data: column(2), backgroundColor: COLORS[1] },
        { label: "Errors", data: column(3), backgroundColor: COLORS[2] },
      ];
    } else if (kind === "volume") {
      datasets = ["inbound", "outbound", "transfer"].map((name, i) => ({
        label: name, data: column(i + 2), backgroundColor: COLORS[i], stack: "calls",
      }));
    } else {
      datasets = [{ label: "Calls", data: column(1), backgroundColor: COLORS[0] }];
    }
    new Chart(canvas, {
      type: "bar",
      data: { labels, datasets },
      options: {
        animation: false, maintainAspectRatio: false,
        indexAxis: kind === "funnel" ? "y" : "x",
        scales: kind === "volume" ? { x: { stacked: true }, y: { stacked: true } } : {},
      },
    });
  }
}

function enhance(root) {
  localTimes(root);
  presets(root);
  withoutEmpty(root);
  copyButtons(root);
  charts(root);
}

document.addEventListener("DOMContentLoaded", () => enhance(document));
// the timeline of a call in progress is swapped in by htmx: its times too
document.addEventListener("htmx:afterSettle", () => localTimes(document));

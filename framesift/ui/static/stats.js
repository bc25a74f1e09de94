// Stats: what curation removed and saved, and what labelling costs and how right it is.

import { call, curation } from "./api.js";
import { el, fixed, main, problem, table, timeText } from "./dom.js";

const bars = (counts) => {
  const entries = Object.entries(counts ?? {}).map(([k, v]) => [k, Number(v)]).sort((a, b) => b[1] - a[1]);
  const top = Math.max(1, ...entries.map(([, v]) => v));
  return table(["", { text: "frames", num: true }, ""], entries.map(([name, n]) => [name, n, el("div", { class: "bar", style: `width:${(100 * n) / top}%`, role: "presentation" })]));
};

// Distinct colours for the few reasons (Tableau 10), in the reasons' sorted order.
const REASON_COLOURS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

// Each day's rejections as one bar, a segment per reason (a frame with two reasons is in both).
function byDay(days) {
  if (!days?.length) return el("p", { class: "muted" }, "No frames yet.");
  const reasons = [...new Set(days.flatMap((d) => Object.keys(d.by_reason ?? {})))].sort();
  const colour = (r) => REASON_COLOURS[reasons.indexOf(r) % REASON_COLOURS.length];
  const top = Math.max(1, ...days.map((d) => Object.values(d.by_reason ?? {}).reduce((sum, n) => sum + Number(n), 0)));
  const legend = el("p", { class: "legend" }, reasons.map((r) => el("span", {}, el("i", { class: "swatch", style: `background:${colour(r)}` }), r)));
  const rows = days.map((d) => {
    const frames = Number(d.frames ?? 0), rejected = Number(d.rejected ?? 0);
    const segments = reasons.filter((r) => d.by_reason?.[r]).map((r) => el("span", {
      class: "segment", "data-reason": r, title: `${r}: ${d.by_reason[r]}`,
      style: `width:${(100 * Number(d.by_reason[r])) / top}%;background:${colour(r)}` }));
    return [d.day, frames, rejected, frames ? `${fixed((100 * rejected) / frames, 1)} %` : "–", el("div", { class: "stacked", role: "presentation" }, segments)];
  });
  return [legend, table(["capture day (UTC)", { text: "frames", num: true }, { text: "rejected", num: true }, { text: "share", num: true }, "by reason"], rows)];
}

function byWindow(windows) {
  if (!windows?.length) return el("p", { class: "muted" }, "No selection window yet.");
  return table(["window", "from", "to", { text: "candidates", num: true }, { text: "budget", num: true }, { text: "selected", num: true }, ""],
    windows.map((w) => [w.window_id, timeText(w.start), timeText(w.end), Number(w.candidates ?? 0), Number(w.budget ?? 0), Number(w.selected ?? 0), w.closed ? "closed" : "open"]));
}

const rateText = (r) => (r?.reviewed ? `${fixed(100 * (r.rate ?? 0), 1)} % [${fixed(100 * (r.low ?? 0), 1)}, ${fixed(100 * (r.high ?? 0), 1)}] of ${r.reviewed}` : "not reviewed yet");

const rates = (title, byKey) => el("section", { class: "panel" }, el("h2", {}, title),
  table(["", "label error rate, 95 % interval, reviewed"], Object.entries(byKey ?? {}).map(([k, r]) => [k, rateText(r)])));

async function render() {
  try {
    const [frames, labels] = await Promise.all([curation.stats(), call("/v1/labels/stats").catch(() => null)]);
    const prelabels = Object.entries(labels?.prelabels_by_model ?? {}).flatMap(([model, counts]) =>
      Object.entries(counts.by_class ?? {}).map(([name, c]) => {
        const total = ["kept", "adjusted", "reclassed", "deleted"].reduce((sum, k) => sum + Number(c[k] ?? 0), 0);
        return [model, name, Number(c.kept ?? 0), Number(c.adjusted ?? 0), Number(c.reclassed ?? 0), Number(c.deleted ?? 0), Number(c.added ?? 0), total ? `${fixed((100 * Number(c.kept ?? 0)) / total, 1)} %` : "–"];
      }));
    main(
      "Stats",
      el("section", { class: "panel", id: "curation-stats" }, el("h2", {}, "Curation"),
        table(["", { text: "", num: true }], [
          ["frames ingested", Number(frames.frames_ingested ?? 0)],
          ["removed by quality and de-duplication", `${fixed(frames.reduction_percent, 1)} %`],
          ["duplicates", Number(frames.duplicates ?? 0)],
          ["selected for labelling", Number(frames.selected ?? 0)],
          ["labelling cost avoided", `${fixed(frames.labelling_cost_avoided, 2)} (at ${fixed(frames.cost_per_frame, 2)} per frame)`],
        ])),
      el("section", { class: "panel" }, el("h2", {}, "Rejections by reason"), bars(frames.rejections_by_reason)),
      el("section", { class: "panel", id: "rejections-by-day" }, el("h2", {}, "Rejections by reason over time"), byDay(frames.rejections_by_day)),
      el("section", { class: "panel", id: "windows" }, el("h2", {}, "Selections per window (latest first)"), byWindow(frames.windows)),
      el("section", { class: "panel" }, el("h2", {}, "Frames by status"), bars(frames.frames_by_status)),
      labels ? [
        el("section", { class: "panel", id: "label-stats" }, el("h2", {}, "Labelling"),
          table(["", ""], [
            ["tasks by state", Object.entries(labels.tasks_by_state ?? {}).map(([k, v]) => `${k} ${v}`).join(", ") || "none"],
            ["label error rate (reviewed sample)", rateText(labels.overall)],
            ["median seconds per task with pre-labels", fixed(labels.median_seconds_with_prelabels, 1)],
            ["median seconds per task without pre-labels", fixed(labels.median_seconds_without_prelabels, 1)],
          ])),
        el("section", { class: "panel" }, el("h2", {}, "Pre-label acceptance"),
          prelabels.length ? table(["model", "class", { text: "kept", num: true }, { text: "adjusted", num: true }, { text: "reclassed", num: true }, { text: "deleted", num: true }, { text: "added", num: true }, { text: "accepted", num: true }], prelabels)
            : el("p", { class: "muted" }, "No pre-labelled task submitted yet.")),
        rates("By labeller", labels.by_labeller), rates("By class", labels.by_class), rates("By camera", labels.by_camera),
      ] : el("p", { class: "muted" }, "The label service does not answer here."),
    );
  } catch (error) {
    main("Stats", problem(error));
  }
}

render();

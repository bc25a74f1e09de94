// Stats: what curation removed and saved, and what labelling costs and how right it is.

import { call, curation } from "./api.js";
import { el, fixed, main, problem, table } from "./dom.js";

const bars = (counts) => {
  const entries = Object.entries(counts ?? {}).map(([k, v]) => [k, Number(v)]).sort((a, b) => b[1] - a[1]);
  const top = Math.max(1, ...entries.map(([, v]) => v));
  return table(["", { text: "frames", num: true }, ""], entries.map(([name, n]) => [name, n, el("div", { class: "bar", style: `width:${(100 * n) / top}%`, role: "presentation" })]));
};

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

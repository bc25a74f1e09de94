// One frame: the image with overlays per source, metrics, reasons, the kept frame beside a
// duplicate, priority parts and Explain's neighbours, and the labelling history.

import { apiKey, call, curation, imageUrl, thumbnailUrl } from "./api.js";
import { OUTCOME_COLOURS, classColour, drawBoxes, stage, usePalette } from "./boxes.js";
import { el, fill, fixed, problem, table, timeText } from "./dom.js";

const enumName = (value, prefix) => (value ?? "").replace(prefix, "").toLowerCase();

// The latest evaluation run's boxes on this frame (labels and detections with tp / fp / fn).
async function evaluationBoxes(record) {
  const model = record.evaluation?.model_version;
  if (!model) return null;
  const runs = await call(`/v1/evaluations/runs?${new URLSearchParams({ model_version: model, limit: 1 })}`);
  const run = runs.reports?.[0];
  if (!run) return null;
  try {
    return { run, outcomes: await call(`/v1/evaluations/runs/${encodeURIComponent(run.run_id)}/frames/${encodeURIComponent(record.frame.frame_id)}`) };
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
}

async function labelTask(frameId) {
  if (!apiKey()) return { note: "Sign in on the Label or Review page to see who labelled and reviewed it." };
  try {
    return { task: await call(`/v1/labels/frames/${encodeURIComponent(frameId)}/task`, { auth: true }) };
  } catch (error) {
    return { note: error.status === 404 ? "Not selected for labelling." : error.message };
  }
}

function overlaySources(record, task, evaluation) {
  const sources = [
    { key: "prelabels", name: "Pre-labels", items: (record.detections ?? []).map((d) => ({ ...d, label: `${d.class_name} ${fixed(d.score, 2)}`, dashed: true })) },
  ];
  const final = task?.final_annotations?.length ? task.final_annotations : task?.annotations;
  if (final?.length) sources.push({ key: "labels", name: "Labels", items: final.map((a) => ({ ...a, label: a.class_name })) });
  if (evaluation) {
    const objects = evaluation.outcomes.objects ?? [];
    sources.push({ key: "truth", name: `Evaluated labels (${evaluation.run.model_version})`, items: objects.filter((o) => o.kind === "truth").map((o) => ({ ...o, label: `${o.class_name} ${o.outcome}` })) });
    sources.push({ key: "predictions", name: "Predictions", items: objects.filter((o) => o.kind === "detection").map((o) => ({ ...o, dashed: true, label: `${o.class_name} ${fixed(o.score, 2)} ${o.outcome}` })) });
  }
  return sources;
}

function overlayControls(sources, redraw) {
  const shown = new Set(sources.map((s) => s.key));
  let colourBy = "class";
  const toggles = sources.map((source) =>
    el("label", {}, el("input", { type: "checkbox", checked: true, name: `show-${source.key}`, onchange: (event) => {
      if (event.target.checked) shown.add(source.key);
      else shown.delete(source.key);
      redraw(shown, colourBy);
    } }), ` ${source.name} (${source.items.length}) `),
  );
  const colourMenu = el("select", { "aria-label": "Colour boxes by", onchange: (event) => { colourBy = event.target.value; redraw(shown, colourBy); } },
    el("option", { value: "class" }, "colour by class"), el("option", { value: "outcome" }, "colour by TP / FP / FN"));
  const legend = el("p", { class: "legend muted" }, Object.entries(OUTCOME_COLOURS).map(([name, colour]) =>
    el("span", {}, el("i", { class: "swatch", style: `background:${colour}` }), name)), "dashed: pre-label or prediction");
  return { controls: el("div", { class: "toolbar" }, toggles, colourMenu), legend, shown: () => [shown, colourBy] };
}

function history(task) {
  if (!task) return [];
  const steps = [
    ["pre-labels", task.has_detector ? `${(task.prelabels ?? []).length} boxes from ${task.model}` : "no detector: labelling started empty"],
    ["labeller", task.labeller ? `${task.labeller}: ${(task.annotations ?? []).length} box(es) in ${fixed(task.labelling_seconds ?? 0, 0)} s` : "not labelled yet"],
  ];
  if (task.review_reason) steps.push(["review", `${task.review_reason}${task.reviewer ? `, ${task.reviewer}: ${task.verdict || "pending"}` : ""}`]);
  if (task.qa_flags?.length) steps.push(["QA", task.qa_flags.join(", ")]);
  steps.push(["state", task.state]);
  return table(["step", "what"], steps);
}

export function frameView(frameId, { similar } = {}) {
  const root = el("div", { class: "frame-view", id: "frame-view" }, el("p", { role: "status" }, "Loading frame…"));
  load(root, frameId, similar).catch((error) => fill(root, problem(error)));
  return root;
}

async function load(root, frameId, similar) {
  const [explanation] = await Promise.all([
    curation.explain(frameId),
    call("/v1/labels/ontology").then((ontology) => usePalette(ontology.classes), () => null), // colours only
  ]);
  const record = explanation.record;
  const [{ task, note }, evaluation] = await Promise.all([labelTask(frameId), evaluationBoxes(record).catch(() => null)]);
  const captured = timeText(record.frame.captured_at);
  const view = stage(imageUrl(frameId), `Frame ${frameId} from camera ${record.frame.camera_id} at ${captured}`);
  const sources = overlaySources(record, task, evaluation);
  const redraw = (shown, colourBy) =>
    drawBoxes(view.layer, size, sources.filter((s) => shown.has(s.key)).flatMap((s) =>
      s.items.map((item) => ({ ...item, source: s.key, colour: colourBy === "outcome" && item.outcome ? OUTCOME_COLOURS[item.outcome] : classColour(item.class_name) }))));
  const overlay = overlayControls(sources, redraw);
  let size = { width: 1, height: 1 };

  const status = enumName(record.status, "FRAME_STATUS_");
  const reasons = (record.reasons ?? []).map((r) => enumName(r, "REJECT_REASON_"));
  const metrics = Object.entries(record.metrics ?? {}).sort(([a], [b]) => a.localeCompare(b));
  // Proto JSON leaves zeros out: a part that is absent is 0.
  const parts = record.priority ? ["total", "uncertainty", "rarity", "novelty", "quality"].map((name) => [name, fixed(record.priority[name] ?? 0), explanation.weights?.[name] !== undefined ? fixed(explanation.weights[name], 2) : ""]) : [];
  const side = el(
    "div",
    {},
    el("section", { class: "panel" }, el("h2", {}, "Frame"),
      table(["", ""], [["id", frameId], ["camera", record.frame.camera_id], ["captured", captured], ["status", status],
        ["reasons", reasons.join(", ") || "none"], ["review", record.review_verdict || "–"],
        ["evaluation", record.evaluation ? `${record.evaluation.model_version}: tp ${record.evaluation.tp ?? 0}, fp ${record.evaluation.fp ?? 0}, fn ${record.evaluation.fn ?? 0}` : "–"],
        ["decision", record.decision || "–"], ["failure", record.failure || "–"]]),
      similar ? el("button", { type: "button", onclick: () => similar(frameId) }, "More like this")
        : el("a", { href: `/?similar=${encodeURIComponent(frameId)}` }, "More like this")),
    parts.length ? el("section", { class: "panel" }, el("h2", {}, "Priority"), table(["part", { text: "value", num: true }, { text: "weight", num: true }], parts),
      (explanation.notes ?? []).map((n) => el("p", { class: "muted" }, n))) : null,
    el("section", { class: "panel" }, el("h2", {}, "History"), task ? history(task) : el("p", { class: "muted" }, note)),
    el("section", { class: "panel" }, el("h2", {}, "Metrics"), table(["metric", { text: "value", num: true }], metrics.map(([k, v]) => [k, fixed(v)]))),
  );
  const extra = [];
  if (record.duplicate_of) {
    extra.push(el("section", { class: "panel", id: "duplicate" }, el("h2", {}, "Duplicate of the kept frame"),
      el("div", { class: "side-by-side" },
        el("figure", {}, el("img", { src: imageUrl(frameId), alt: `This frame, ${frameId}` }), el("figcaption", {}, "this frame")),
        el("figure", {}, el("a", { href: `/ui/frames/${encodeURIComponent(record.duplicate_of)}` },
          el("img", { src: imageUrl(record.duplicate_of), alt: `The kept frame ${record.duplicate_of}` })), el("figcaption", {}, `kept: ${record.duplicate_of.slice(0, 12)}`)))));
  }
  if (explanation.neighbours?.length) {
    extra.push(el("section", { class: "panel" }, el("h2", {}, "Neighbours that made it less novel"),
      el("div", { class: "thumbs" }, explanation.neighbours.map((n) => el("a", { href: `/ui/frames/${encodeURIComponent(n.frame_id)}` },
        el("img", { src: thumbnailUrl(n.frame_id, 128), alt: `Neighbour ${n.frame_id.slice(0, 12)}, similarity ${fixed(n.similarity, 2)}` }))))));
  }
  fill(root, el("div", {}, overlay.controls, view.root, overlay.legend, ...extra), side);
  size = await view.ready;
  redraw(...overlay.shown());
}

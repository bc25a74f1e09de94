// Evaluation: a run's metrics overall and by slice with their intervals, the frames it gets
// wrong, the label-error candidates it found, and two model versions compared.

import { call } from "./api.js";
import { classColour, svg } from "./boxes.js";
import { el, fill, fixed, main, problem, table, timeText } from "./dom.js";

const METRICS = ["map", "ap50", "ap75", "ar100"];
const params = () => new URLSearchParams(location.search);

function interval(low, value, high) {
  if (low === undefined || high === undefined) return el("span", { class: "muted" }, "–");
  const at = (v) => `${Math.min(100, Math.max(0, 100 * v))}%`;
  return el("div", { class: "interval", role: "img", "aria-label": `${fixed(low)} to ${fixed(high)}` },
    el("span", { style: `left:${at(low)};width:calc(${at(high)} - ${at(low)})` }), el("i", { style: `left:${at(value)}` }));
}

// Each class's precision-recall curve at IoU 0.5 (COCO's 101 recall points), one line a class.
function prCurves(classes) {
  const width = 360, height = 240, pad = 32; // pad: room for the axes' ticks
  const x = (recall) => pad + recall * (width - pad - 8);
  const y = (precision) => height - pad - precision * (height - pad - 8);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", id: "pr-curves",
    "aria-label": "Precision against recall at IoU 0.5, one line per class" });
  chart.append(svg("rect", { x: x(0), y: y(1), width: x(1) - x(0), height: y(0) - y(1), class: "pr-frame" }));
  for (const tick of [0, 0.5, 1]) {
    const across = svg("text", { x: x(tick), y: height - pad + 14, "text-anchor": "middle", class: "pr-tick" });
    across.textContent = String(tick);
    const up = svg("text", { x: pad - 6, y: y(tick) + 4, "text-anchor": "end", class: "pr-tick" });
    up.textContent = String(tick);
    chart.append(across, up);
  }
  const recallLabel = svg("text", { x: x(0.5), y: height - 2, "text-anchor": "middle", class: "pr-tick" });
  recallLabel.textContent = "recall";
  const middle = y(0.5);
  const precisionLabel = svg("text", { x: 8, y: middle, "text-anchor": "middle", transform: `rotate(-90 8 ${middle})`, class: "pr-tick" });
  precisionLabel.textContent = "precision";
  chart.append(recallLabel, precisionLabel);
  for (const c of classes) {
    const curve = c.precision_at_recall ?? [];
    // COCO leaves -1 past the highest recall reached: the line stops there.
    const points = curve.map((p, i) => (p >= 0 ? `${x(i / (curve.length - 1)).toFixed(1)},${y(p).toFixed(1)}` : null)).filter(Boolean);
    if (points.length < 2) continue;
    const line = svg("polyline", { points: points.join(" "), stroke: classColour(c.name), class: "pr-line", "data-class": c.name });
    const tip = svg("title", {});
    tip.textContent = `${c.name}: AP50 ${fixed(c.ap50)}`;
    line.append(tip);
    chart.append(line);
  }
  return chart;
}

function classSection(classes) {
  if (!classes.length) return el("p", { class: "muted" }, "This run was stored before reports kept their classes.");
  return el("div", { class: "pr" }, prCurves(classes),
    table(["class", { text: "objects", num: true }, { text: "detections", num: true }, { text: "AP", num: true }, { text: "AP50", num: true }],
      classes.map((c) => [el("span", {}, el("i", { class: "swatch", style: `background:${classColour(c.name)}` }), ` ${c.name}`),
        Number(c.objects ?? 0), Number(c.detections ?? 0), fixed(c.ap), fixed(c.ap50)])));
}

const frameLink = (id, text) => el("a", { href: `/ui/frames/${encodeURIComponent(id)}` }, text ?? id.slice(0, 12));

async function runView(run) {
  const id = encodeURIComponent(run.run_id);
  const [frames, issues] = await Promise.all([call(`/v1/evaluations/runs/${id}/frames?limit=20`), call(`/v1/evaluations/runs/${id}/label-issues?limit=50`)]);
  const slices = run.slices ?? [];
  return el("div", { id: "run" },
    el("section", { class: "panel" }, el("h2", {}, `${run.model_version} on the ${run.split} split`),
      el("p", { class: "muted" }, `${run.images} images, ${run.objects} objects, ${run.detections} detections · ${timeText(run.created_at)} · ${run.resamples} bootstrap resamples`),
      table(METRICS.map((m) => ({ text: m, num: true })), [METRICS.map((m) => fixed(run.metrics?.[m]))])),
    el("section", { class: "panel", id: "by-class" }, el("h2", {}, "By class: AP, and precision against recall at IoU 0.5"),
      classSection(run.classes ?? [])),
    el("section", { class: "panel" }, el("h2", {}, "By slice (worst first), mAP with its 95 % interval"),
      table(["slice", { text: "images", num: true }, { text: "mAP", num: true }, "interval", { text: "AP50", num: true }],
        slices.map((s) => [el("a", { href: `/?q=${encodeURIComponent(s.slice)}` }, s.slice), Number(s.support ?? 0), fixed(s.metrics?.map),
          interval(s.ci95_low?.map, s.metrics?.map ?? 0, s.ci95_high?.map), fixed(s.metrics?.ap50)]))),
    el("section", { class: "panel" }, el("h2", {}, "Frames with the most errors"),
      table(["frame", { text: "tp", num: true }, { text: "fp", num: true }, { text: "fn", num: true }],
        (frames.frames ?? []).map((f) => [frameLink(f.frame_id), Number(f.tp ?? 0), Number(f.fp ?? 0), Number(f.fn ?? 0)])),
      el("p", {}, el("a", { href: "/?q=eval:fp" }, "every frame with a false positive"), " · ", el("a", { href: "/?q=eval:fn" }, "with a missed object"))),
    el("section", { class: "panel", id: "label-issues" }, el("h2", {}, "Label issues (most likely wrong first)"),
      (issues.issues ?? []).length
        ? table(["frame", "issue", "class", "model says", { text: "score", num: true }],
          issues.issues.map((i) => [frameLink(i.frame_id), i.issue, i.class_name ?? "", i.suggested_class ?? "", fixed(i.score)]))
        : el("p", { class: "muted" }, "None found in this run.")),
  );
}

function compareForm(models) {
  const pick = (name, chosen) => el("select", { name, "aria-label": name === "a" ? "Model A" : "Model B" }, models.map((m) => el("option", { value: m, selected: m === chosen }, m)));
  const a = pick("a", models[0]), b = pick("b", models[1] ?? models[0]);
  const out = el("div", { "aria-live": "polite" });
  return el("section", { class: "panel" }, el("h2", {}, "Compare two model versions (paired, on the frames both ran on)"),
    el("form", { class: "toolbar", onsubmit: async (event) => {
      event.preventDefault();
      try {
        const result = await call("/v1/evaluations/compare", { method: "POST", body: { model_a: a.value, model_b: b.value } });
        fill(out, el("p", { class: "muted" }, `${result.images} common images; A minus B`),
          table(["slice", { text: "images", num: true }, { text: "Δ mAP", num: true }, { text: "95 % interval", num: true }, "verdict"],
            (result.slices ?? []).map((s) => [s.slice, Number(s.support ?? 0), fixed(s.difference?.map), `[${fixed(s.ci95_low?.map)}, ${fixed(s.ci95_high?.map)}]`, s.verdict])));
      } catch (error) {
        fill(out, problem(error));
      }
    } }, a, b, el("button", { class: "primary", type: "submit" }, "Compare")), out);
}

async function render() {
  try {
    const runs = (await call("/v1/evaluations/runs?limit=50")).reports ?? [];
    if (!runs.length) {
      main("Evaluation", el("p", {}, "No evaluation run yet: one runs after enough labelled frames of the evaluation split, or POST /v1/evaluations/runs."));
      return;
    }
    const chosen = runs.find((r) => r.run_id === params().get("run")) ?? runs[0];
    const menu = el("select", { id: "run-menu", "aria-label": "Run", onchange: (event) => { history.pushState(null, "", `?run=${event.target.value}`); render(); } },
      runs.map((r) => el("option", { value: r.run_id, selected: r === chosen }, `${r.model_version} · ${timeText(r.created_at)}`)));
    const models = [...new Set(runs.map((r) => r.model_version))];
    main("Evaluation", el("div", { class: "toolbar" }, el("label", { for: "run-menu" }, "Run"), menu), await runView(chosen), models.length > 1 ? compareForm(models) : null);
  } catch (error) {
    main("Evaluation", problem(error));
  }
}

window.addEventListener("popstate", render);
render();

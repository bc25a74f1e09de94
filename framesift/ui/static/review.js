// Review: the sampled tasks, the labeller's boxes over the pre-labels, each QA finding beside the
// box it is about; accept, correct (edit, then save) or reject, by keyboard.

import { call } from "./api.js";
import { classColour } from "./boxes.js";
import { el, fill, problem } from "./dom.js";
import { taskLoop, workspace } from "./workspace.js";

async function render(task, ontology, done, errorLine) {
  let active = null;
  const verdict = async (name, annotations) => {
    try {
      const answer = await call(`/v1/labels/tasks/${encodeURIComponent(task.task_id)}/review`, { method: "POST", auth: true, body: { verdict: name, annotations } });
      done(`Task ${task.task_id.slice(0, 8)}: ${name}${answer?.why ? ` (${answer.why})` : ""}.`);
    } catch (error) {
      fill(errorLine, problem(error));
    }
  };
  const keys = {
    a: { label: "A", name: "accept", run: () => verdict("accepted") },
    c: { label: "C", name: "save as corrected", run: () => verdict("corrected", active.annotations()) },
    r: { label: "R", name: "reject (back to the queue)", run: () => verdict("rejected") },
  };
  const labelled = (task.annotations ?? []).map((a) => ({ ...a, attributes: a.attributes ?? {} }));
  const prelabels = (task.prelabels ?? []).map((p) => ({ box: p.box, colour: classColour(p.class_name), dashed: true, label: `pre-label ${p.class_name}` }));
  active = await workspace(task, ontology, labelled, { keys, reference: prelabels, findings: task.qa_findings ?? [] });
  const header = [
    el("p", { class: "muted" }, `Task ${task.task_id.slice(0, 8)} · labelled by ${task.labeller} · reviewed because: ${task.review_reason}`,
      task.qa_flags?.length ? el("span", { class: "error" }, ` · QA: ${task.qa_flags.join(", ")}`) : ""),
    el("p", { class: "muted" }, "Solid: the labeller's boxes (edit them to correct). Dashed: the model's pre-labels."),
    el("div", { class: "toolbar" },
      el("button", { class: "primary", type: "button", id: "accept", onclick: keys.a.run }, "Accept (A)"),
      el("button", { type: "button", id: "correct", onclick: keys.c.run }, "Save as corrected (C)"),
      el("button", { type: "button", id: "reject", onclick: keys.r.run }, "Reject (R)")),
  ];
  return { workspace: active, header };
}

taskLoop({
  title: "Review",
  role: "Reviewer",
  waiting: "Taking the next task to review…",
  empty: "Nothing to review now.",
  take: () => call("/v1/labels/reviews/next", { method: "POST", auth: true }),
  render,
});

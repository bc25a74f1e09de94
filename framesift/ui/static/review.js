// Review: the sampled tasks, the labeller's boxes over the pre-labels, QA findings on their boxes;
// accept, correct (edit, then save) or reject, by keyboard.

import { call } from "./api.js";
import { classColour } from "./boxes.js";
import { el, fill, main, problem, status } from "./dom.js";
import { isSignedIn, loadOntology, signInForm, signedIn, workspace } from "./workspace.js";

let active = null;
let message = null;

async function next() {
  active?.stop();
  active = null;
  if (!isSignedIn()) {
    main("Review", signInForm("Reviewer", next));
    return;
  }
  main("Review", signedIn(next), status("Taking the next task to review…"));
  try {
    const [ontology, task] = await Promise.all([loadOntology(), call("/v1/labels/reviews/next", { method: "POST", auth: true })]);
    if (!task) {
      main("Review", signedIn(next), message, status("Nothing to review now."), el("button", { type: "button", onclick: next }, "Check again"));
      return;
    }
    await show(task, ontology);
  } catch (error) {
    main("Review", signedIn(next), problem(error), el("button", { type: "button", onclick: next }, "Try again"));
  }
}

async function show(task, ontology) {
  const errorLine = el("div", { "aria-live": "assertive" });
  const verdict = async (name, annotations) => {
    try {
      const done = await call(`/v1/labels/tasks/${encodeURIComponent(task.task_id)}/review`, { method: "POST", auth: true, body: { verdict: name, annotations } });
      message = status(`Task ${task.task_id.slice(0, 8)}: ${name}${done?.why ? ` (${done.why})` : ""}.`, "ok");
      next();
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
  main(
    "Review",
    signedIn(next),
    message,
    el("p", { class: "muted" }, `Task ${task.task_id.slice(0, 8)} · labelled by ${task.labeller} · reviewed because: ${task.review_reason}`,
      task.qa_flags?.length ? el("span", { class: "error" }, ` · QA: ${task.qa_flags.join(", ")}`) : ""),
    el("p", { class: "muted" }, "Solid: the labeller's boxes (edit them to correct). Dashed: the model's pre-labels."),
    el("div", { class: "toolbar" },
      el("button", { class: "primary", type: "button", id: "accept", onclick: keys.a.run }, "Accept (A)"),
      el("button", { type: "button", id: "correct", onclick: keys.c.run }, "Save as corrected (C)"),
      el("button", { type: "button", id: "reject", onclick: keys.r.run }, "Reject (R)")),
    errorLine,
    active.root,
  );
  message = null;
}

next();

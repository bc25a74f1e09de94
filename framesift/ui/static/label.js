// Label: lease the next task, draw and fix boxes over the pre-labels, submit and go on.

import { call } from "./api.js";
import { el, fill, main, problem, status } from "./dom.js";
import { isSignedIn, loadOntology, signInForm, signedIn, workspace } from "./workspace.js";

let active = null;
let message = null;

function fromPrelabels(task) {
  return (task.prelabels ?? []).map((p) => ({ class_name: p.class_name, class_id: p.class_id, box: p.box, attributes: {}, track_id: "", from_prelabel: true }));
}

async function next() {
  active?.stop();
  active = null;
  if (!isSignedIn()) {
    main("Label", signInForm("Labeller", next));
    return;
  }
  main("Label", signedIn(next), status("Leasing the next task…"));
  try {
    const [ontology, task] = await Promise.all([loadOntology(), call("/v1/labels/tasks/next", { method: "POST", body: {}, auth: true })]);
    if (!task) {
      main("Label", signedIn(next), message, status("The queue is empty: every selected frame is labelled or leased."),
        el("button", { type: "button", onclick: next }, "Check again"));
      return;
    }
    await show(task, ontology);
  } catch (error) {
    main("Label", signedIn(next), problem(error), el("button", { type: "button", onclick: next }, "Try again"));
  }
}

async function show(task, ontology) {
  const errorLine = el("div", { "aria-live": "assertive" });
  const send = async (path, body) => {
    try {
      const done = await call(`/v1/labels/tasks/${encodeURIComponent(task.task_id)}/${path}`, { method: "POST", body, auth: true });
      message = status(`Task ${task.task_id.slice(0, 8)} ${path === "skip" ? "skipped" : `submitted: ${done?.state ?? ""}${done?.qa_flags?.length ? `, QA flags ${done.qa_flags.join(", ")}` : ""}`}.`, "ok");
      next();
    } catch (error) {
      fill(errorLine, problem(error));
    }
  };
  const keys = {
    Enter: { label: "Enter", name: "submit and next", run: () => send("submit", { annotations: active.annotations(), frame_classes: active.frameClasses() }) },
    a: { label: "A", name: "accept pre-labels", run: () => send("accept-prelabels") },
    s: { label: "S", name: "skip", run: () => send("skip", { reason: "skipped in the browser" }) },
  };
  active = await workspace(task, ontology, fromPrelabels(task), { keys });
  const lease = task.lease_expires ? ` · lease until ${task.lease_expires.replace("T", " ").replace(/\.\d+Z$/, "Z")}` : "";
  main(
    "Label",
    signedIn(next),
    message,
    el("p", { class: "muted" }, `Task ${task.task_id.slice(0, 8)} · camera ${task.frame.camera_id} · priority ${Number(task.priority ?? 0).toFixed(2)}${lease} · `,
      task.has_detector ? `${(task.prelabels ?? []).length} pre-labels from ${task.model}` : (task.why || "no detector: labelling starts empty")),
    el("div", { class: "toolbar" },
      el("button", { class: "primary", type: "button", id: "submit", onclick: keys.Enter.run }, "Submit and next (Enter)"),
      el("button", { type: "button", id: "accept", onclick: keys.a.run, disabled: !(task.prelabels ?? []).length }, "Accept pre-labels (A)"),
      el("button", { type: "button", id: "skip", onclick: keys.s.run }, "Skip (S)")),
    errorLine,
    active.root,
  );
  message = null;
}

next();

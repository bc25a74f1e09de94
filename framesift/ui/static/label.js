// Label: lease the next task, draw and fix boxes over the pre-labels, submit and go on.

import { call } from "./api.js";
import { el, fill, problem } from "./dom.js";
import { taskLoop, workspace } from "./workspace.js";

function fromPrelabels(task) {
  return (task.prelabels ?? []).map((p) => ({ class_name: p.class_name, class_id: p.class_id, box: p.box, attributes: {}, track_id: "", from_prelabel: true }));
}

async function render(task, ontology, done, errorLine) {
  let active = null;
  const send = async (path, body) => {
    try {
      const answer = await call(`/v1/labels/tasks/${encodeURIComponent(task.task_id)}/${path}`, { method: "POST", body, auth: true });
      done(`Task ${task.task_id.slice(0, 8)} ${path === "skip" ? "skipped" : `submitted: ${answer?.state ?? ""}${answer?.qa_flags?.length ? `, QA flags ${answer.qa_flags.join(", ")}` : ""}`}.`);
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
  const header = [
    el("p", { class: "muted" }, `Task ${task.task_id.slice(0, 8)} · camera ${task.frame.camera_id} · priority ${Number(task.priority ?? 0).toFixed(2)}${lease} · `,
      task.has_detector ? `${(task.prelabels ?? []).length} pre-labels from ${task.model}` : (task.why || "no detector: labelling starts empty")),
    el("div", { class: "toolbar" },
      el("button", { class: "primary", type: "button", id: "submit", onclick: keys.Enter.run }, "Submit and next (Enter)"),
      el("button", { type: "button", id: "accept", onclick: keys.a.run, disabled: !(task.prelabels ?? []).length }, "Accept pre-labels (A)"),
      el("button", { type: "button", id: "skip", onclick: keys.s.run }, "Skip (S)")),
  ];
  return { workspace: active, header };
}

taskLoop({
  title: "Label",
  role: "Labeller",
  waiting: "Leasing the next task…",
  empty: "The queue is empty: every selected frame is labelled or leased.",
  take: () => call("/v1/labels/tasks/next", { method: "POST", body: {}, auth: true }),
  render,
});

// What the label and review pages share: signing in with a labeller's API key, the ontology,
// and the box editor with its class, attribute and track-id controls and keyboard shortcuts.

import { apiKey, call, imageUrl, signIn, signOut } from "./api.js";
import { BoxEditor, classColour, drawBoxes, stage, usePalette } from "./boxes.js";
import { el, fill, main, problem, status } from "./dom.js";

export function signInForm(role, onDone) {
  const input = el("input", { type: "password", id: "api-key", autocomplete: "off", required: true, "aria-describedby": "api-key-help" });
  const error = el("div", { "aria-live": "polite" });
  return el(
    "form",
    { class: "signin panel", onsubmit: async (event) => {
      event.preventDefault();
      signIn(input.value);
      onDone();
    } },
    el("label", { for: "api-key" }, `${role} API key`),
    input,
    el("button", { class: "primary", type: "submit" }, "Sign in"),
    el("p", { id: "api-key-help", class: "muted" }, "framesift label labellers add NAME prints one (add --reviewer to review). It stays in this tab only."),
    error,
  );
}

export function signedIn(onSignOut) {
  return el("p", { class: "muted" }, "Signed in. ", el("button", { type: "button", onclick: () => { signOut(); onSignOut(); } }, "Sign out"));
}

export const isSignedIn = () => Boolean(apiKey());

export async function loadOntology() {
  const document = await call("/v1/labels/ontology");
  const active = document.classes.filter((c) => !c.retired);
  usePalette(active);
  return {
    version: document.version,
    boxes: active.filter((c) => (c.kind ?? "box") === "box"),
    frames: active.filter((c) => c.kind === "frame"),
  };
}

const isTyping = (target) => ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName) && target.type !== "checkbox" && target.type !== "radio";

// The editor for `annotations` over the task's image, with its side controls. `keys` maps extra
// single keys (a, r, s, Enter...) to actions; the returned `stop()` removes the key handler.
export async function workspace(task, ontology, annotations, { keys = {}, reference = [], findings = [] } = {}) {
  const frameId = task.frame.frame_id;
  const view = stage(imageUrl(frameId), `Frame ${frameId} from camera ${task.frame.camera_id}`);
  let current = ontology.boxes[0];
  const classList = el("fieldset", { class: "panel" }, el("legend", {}, "Class for new and selected boxes"),
    ontology.boxes.map((c, i) => el("label", { style: "display:block" },
      el("input", { type: "radio", name: "class", value: c.name, checked: i === 0, onchange: () => { current = c; editor.update({ class_name: c.name, class_id: c.id }); } }),
      el("i", { class: "swatch", style: `background:${classColour(c.name)}` }), ` ${i < 9 ? `${i + 1} ` : ""}${c.display_name || c.name}`)));
  const boxPanel = el("div", { class: "panel", id: "selected-box", "aria-live": "polite" });
  const frameClasses = el("fieldset", { class: "panel" }, el("legend", {}, "Frame classes"),
    ontology.frames.map((c) => el("label", { style: "display:block" },
      el("input", { type: "checkbox", name: "frame-class", value: c.name, checked: (task.frame_classes ?? []).includes(c.name) }), ` ${c.display_name || c.name}`)));
  // Each finding travels with its box (as `qa`), so it stays on it when a box before it is deleted.
  const findingNotes = (annotation) => (annotation.qa ?? []).map((f) => el("p", { class: "error" }, `${f.issue}: ${f.detail}`));

  const describe = (ed) => {
    const a = ed.annotations[ed.selected];
    if (!a) {
      fill(boxPanel, el("p", { class: "muted" }, `${ed.annotations.length} boxes. Drag on the image to draw one.`));
      return;
    }
    const cls = ontology.boxes.find((c) => c.name === a.class_name);
    const attributes = (cls?.attributes ?? []).map((attribute) => {
      const id = `attr-${attribute.name}`;
      if (!attribute.values?.length) {
        return el("label", { style: "display:block" }, el("input", { type: "checkbox", id, checked: a.attributes?.[attribute.name] === "true",
          onchange: (event) => ed.update({ attributes: { ...a.attributes, [attribute.name]: String(event.target.checked) } }) }), ` ${attribute.name}`);
      }
      return el("label", { style: "display:block" }, `${attribute.name} `, el("select", { id, onchange: (event) => ed.update({ attributes: { ...a.attributes, [attribute.name]: event.target.value } }) },
        el("option", { value: "" }, "–"), attribute.values.map((v) => el("option", { value: v, selected: a.attributes?.[attribute.name] === v }, v))));
    });
    fill(boxPanel, 
      el("h2", {}, `Box ${ed.selected + 1} of ${ed.annotations.length}: ${a.class_name}${a.from_prelabel ? " (pre-label)" : ""}`),
      ...findingNotes(a),
      attributes,
      el("label", {}, "Track id ", el("input", { id: "track-id", value: a.track_id ?? "", size: 10, onchange: (event) => ed.update({ track_id: event.target.value.trim() }) })),
    );
  };
  const root = el("div", { class: "frame-view" }, el("div", {}, view.root,
    findings.filter((f) => f.annotation === undefined).map((f) => el("p", { class: "error" }, `${f.issue}: ${f.detail}`, f.prelabel === undefined ? "" : " (outlined on the image)"))),
  el("div", {}, boxPanel, classList, frameClasses, el("p", { class: "keys" },
    el("kbd", {}, "1"), "–", el("kbd", {}, "9"), " class · ", el("kbd", {}, "["), el("kbd", {}, "]"), " previous / next box · ",
    el("kbd", {}, "Del"), " delete · arrows move (", el("kbd", {}, "Shift"), " ×10) · ", el("kbd", {}, "Esc"), " deselect",
    Object.values(keys).map((k) => [" · ", el("kbd", {}, k.label), ` ${k.name}`]))));
  const size = await view.ready;
  const referenceLayer = view.layer.cloneNode();
  view.root.insertBefore(referenceLayer, view.layer);
  // A finding about a pre-label (a missing object) is drawn on that pre-label.
  drawBoxes(referenceLayer, size, reference.map((item, index) => ({ ...item, flags: findings.filter((f) => f.prelabel === index) })));
  const withFindings = annotations.map((a, index) => ({ ...a, qa: findings.filter((f) => f.annotation === index) }));
  const editor = new BoxEditor(view, size, withFindings, { classOf: () => current && { name: current.name, id: current.id }, onChange: describe });

  const onKey = (event) => {
    if (isTyping(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
    const action = keys[event.key];
    const digit = Number(event.key);
    if (action) action.run();
    else if (digit >= 1 && digit <= Math.min(9, ontology.boxes.length)) {
      current = ontology.boxes[digit - 1];
      classList.querySelectorAll("input")[digit - 1].checked = true;
      editor.update({ class_name: current.name, class_id: current.id });
    } else if (event.key === "Delete" || event.key === "Backspace") editor.remove();
    else if (event.key === "]") editor.select(1);
    else if (event.key === "[") editor.select(-1);
    else if (event.key === "Escape") { editor.selected = -1; editor.render(); }
    else if (event.key.startsWith("Arrow")) {
      const [dx, dy] = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[event.key];
      editor.nudge(dx, dy, event.shiftKey ? 10 : 1);
    } else return;
    event.preventDefault();
  };
  document.addEventListener("keydown", onKey);
  return {
    root,
    editor,
    frameClasses: () => [...frameClasses.querySelectorAll("input:checked")].map((input) => input.value),
    // Annotations as the API takes them (from_prelabel is the server's to decide).
    annotations: () => editor.annotations.map(({ class_name, box, attributes, track_id }) => ({
      class: class_name, box: { x_min: box.x_min ?? 0, y_min: box.y_min ?? 0, x_max: box.x_max ?? 0, y_max: box.y_max ?? 0 },
      attributes: Object.fromEntries(Object.entries(attributes ?? {}).filter(([, v]) => v !== "")), track_id })),
    stop: () => document.removeEventListener("keydown", onKey),
  };
}

// The label and review pages' loop: sign in, take the next task, show it, and after its action
// (`done(text)`) the next one. `render(task, ontology, done, errorLine)` returns the workspace it
// made and what the page shows above and around it.
export function taskLoop({ title, role, waiting, empty, take, render }) {
  let active = null;
  let message = null;
  const retry = (text) => el("button", { type: "button", onclick: next }, text);
  async function next() {
    active?.stop();
    active = null;
    if (!isSignedIn()) {
      main(title, signInForm(role, next));
      return;
    }
    main(title, signedIn(next), status(waiting));
    try {
      const [ontology, task] = await Promise.all([loadOntology(), take()]);
      if (!task) {
        main(title, signedIn(next), message, status(empty), retry("Check again"));
        return;
      }
      const errorLine = el("div", { "aria-live": "assertive" });
      const done = (text) => {
        message = status(text, "ok");
        next();
      };
      const shown = await render(task, ontology, done, errorLine);
      active = shown.workspace;
      main(title, signedIn(next), message, shown.header, errorLine, active.root);
      message = null;
    } catch (error) {
      main(title, signedIn(next), problem(error), retry("Try again"));
    }
  }
  next();
}

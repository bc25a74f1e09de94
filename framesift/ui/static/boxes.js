// Boxes over an image: drawn in an SVG whose user space is the image's pixels, while framesift's
// boxes are relative (0..1). `overlay` shows boxes; `BoxEditor` draws, moves, resizes, deletes them.

import { el } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
export const OUTCOME_COLOURS = { tp: "#1b9e45", fp: "#d7301f", fn: "#f39c12" };

export function svg(tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

const palette = new Map();

// The ontology's colours, where it gives them.
export function usePalette(classes) {
  for (const c of classes) if (c.colour) palette.set(c.name, c.colour);
}

// The ontology's colour of a class, else a stable colour from its name.
export function classColour(name) {
  if (palette.has(name)) return palette.get(name);
  let hash = 0;
  for (const char of name ?? "") hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  return `hsl(${hash % 360} 85% 50%)`;
}

// The image and its SVG layer, sized once the image knows its natural size.
export function stage(src, alt) {
  const image = el("img", { src, alt });
  const layer = svg("svg", { "aria-hidden": "true", preserveAspectRatio: "none" });
  const root = el("div", { class: "stage" }, image, layer);
  const ready = new Promise((resolve, reject) => {
    const size = () => {
      layer.setAttribute("viewBox", `0 0 ${image.naturalWidth} ${image.naturalHeight}`);
      resolve({ width: image.naturalWidth, height: image.naturalHeight });
    };
    if (image.complete && image.naturalWidth) size();
    else {
      image.addEventListener("load", size, { once: true });
      image.addEventListener("error", () => reject(new Error(`the image ${src} did not load`)), { once: true });
    }
  });
  return { root, image, layer, ready };
}

// Draw `items` ({box, colour, label, dashed, id, flags}) on the layer, replacing what was there.
// `flags` are QA findings ({issue, detail}) about the box: a red halo, the issues after its label,
// and the details as its tooltip.
export function drawBoxes(layer, size, items, selected = -1) {
  while (layer.firstChild) layer.firstChild.remove();
  const font = Math.max(11, Math.round(size.width / 70));
  items.forEach((item, index) => {
    const { x_min = 0, y_min = 0, x_max = 0, y_max = 0 } = item.box ?? {};
    const x = x_min * size.width, y = y_min * size.height;
    const w = (x_max - x_min) * size.width, h = (y_max - y_min) * size.height;
    const group = svg("g", { "data-index": index, class: "overlay-box" });
    if (item.source) group.dataset.source = item.source;
    const flags = item.flags ?? [];
    if (flags.length) {
      group.classList.add("flagged");
      group.append(svg("rect", { x, y, width: w, height: h, class: "qa-halo" }));
      const tip = svg("title", {});
      tip.textContent = flags.map((f) => `${f.issue}: ${f.detail}`).join("\n");
      group.append(tip);
    }
    const rect = svg("rect", { x, y, width: w, height: h, stroke: item.colour,
      class: `box${item.dashed ? " prelabel" : ""}${index === selected ? " selected" : ""}` });
    group.append(rect);
    const label = [item.label, flags.length ? `⚠ ${[...new Set(flags.map((f) => f.issue))].join(", ")}` : ""].filter(Boolean).join(" ");
    if (label) {
      const text = svg("text", { x: x + 3, y: Math.max(font, y - 4), class: `box-label${flags.length ? " flagged" : ""}`, "font-size": font });
      text.textContent = label;
      group.append(text);
    }
    if (index === selected && item.editable) {
      const r = Math.max(5, size.width / 160);
      for (const corner of ["nw", "ne", "sw", "se"]) {
        const cx = corner.includes("w") ? x : x + w, cy = corner.includes("n") ? y : y + h;
        group.append(svg("circle", { cx, cy, r, class: "handle", "data-corner": corner }));
      }
    }
    layer.append(group);
  });
}

const clamp = (value) => Math.min(1, Math.max(0, value));
const MIN_SIDE = 0.004; // a click is not a box

// Edits a list of annotations ({class_name, class_id, box, attributes, track_id, from_prelabel}).
export class BoxEditor {
  constructor(stageParts, size, annotations, { classOf, onChange }) {
    this.layer = stageParts.layer;
    this.size = size;
    this.annotations = annotations.map((a) => structuredClone(a));
    this.selected = this.annotations.length ? 0 : -1;
    this.classOf = classOf; // () -> {name, id}: the class a new box gets
    this.onChange = onChange;
    this.layer.style.cursor = "crosshair";
    this.layer.style.touchAction = "none";
    this.layer.addEventListener("pointerdown", (event) => this.#down(event));
    this.render();
  }

  render() {
    drawBoxes(
      this.layer,
      this.size,
      this.annotations.map((a) => ({
        box: a.box, colour: classColour(a.class_name), editable: true, dashed: a.from_prelabel, flags: a.qa,
        label: `${a.class_name}${a.track_id ? ` #${a.track_id}` : ""}${a.from_prelabel ? " (pre-label)" : ""}`,
      })),
      this.selected,
    );
    this.onChange?.(this);
  }

  #point(event) {
    const bounds = this.layer.getBoundingClientRect();
    return { x: clamp((event.clientX - bounds.left) / bounds.width), y: clamp((event.clientY - bounds.top) / bounds.height) };
  }

  #down(event) {
    event.preventDefault();
    const start = this.#point(event);
    const corner = event.target.dataset?.corner;
    const group = event.target.closest?.("g.overlay-box");
    let mode;
    if (corner && this.selected >= 0) mode = { kind: "resize", corner };
    else if (group) {
      this.selected = Number(group.dataset.index);
      mode = { kind: "move", origin: structuredClone(this.annotations[this.selected].box) };
    } else {
      const chosen = this.classOf();
      if (!chosen) return;
      this.annotations.push({ class_name: chosen.name, class_id: chosen.id, box: { x_min: start.x, y_min: start.y, x_max: start.x, y_max: start.y }, attributes: {}, track_id: "", from_prelabel: false });
      this.selected = this.annotations.length - 1;
      mode = { kind: "draw" };
    }
    this.layer.setPointerCapture(event.pointerId);
    const move = (moveEvent) => this.#drag(mode, start, this.#point(moveEvent));
    const up = () => {
      this.layer.removeEventListener("pointermove", move);
      const box = this.annotations[this.selected]?.box;
      if (mode.kind === "draw" && box && (box.x_max - box.x_min < MIN_SIDE || box.y_max - box.y_min < MIN_SIDE)) {
        this.annotations.splice(this.selected, 1);
        this.selected = this.annotations.length - 1;
      }
      this.render();
    };
    this.layer.addEventListener("pointermove", move);
    this.layer.addEventListener("pointerup", up, { once: true });
    this.render();
  }

  #drag(mode, start, point) {
    const annotation = this.annotations[this.selected];
    if (!annotation) return;
    const box = annotation.box;
    if (mode.kind === "draw") {
      Object.assign(box, { x_min: Math.min(start.x, point.x), x_max: Math.max(start.x, point.x), y_min: Math.min(start.y, point.y), y_max: Math.max(start.y, point.y) });
    } else if (mode.kind === "move") {
      const o = mode.origin;
      const dx = Math.min(Math.max(point.x - start.x, -o.x_min), 1 - o.x_max);
      const dy = Math.min(Math.max(point.y - start.y, -o.y_min), 1 - o.y_max);
      Object.assign(box, { x_min: o.x_min + dx, x_max: o.x_max + dx, y_min: o.y_min + dy, y_max: o.y_max + dy });
    } else {
      if (mode.corner.includes("w")) box.x_min = Math.min(point.x, box.x_max - MIN_SIDE);
      if (mode.corner.includes("e")) box.x_max = Math.max(point.x, box.x_min + MIN_SIDE);
      if (mode.corner.includes("n")) box.y_min = Math.min(point.y, box.y_max - MIN_SIDE);
      if (mode.corner.includes("s")) box.y_max = Math.max(point.y, box.y_min + MIN_SIDE);
    }
    annotation.from_prelabel = false; // changed by the labeller
    this.render();
  }

  select(step) {
    if (!this.annotations.length) return;
    this.selected = (this.selected + step + this.annotations.length) % this.annotations.length;
    this.render();
  }

  remove() {
    if (this.selected < 0) return;
    this.annotations.splice(this.selected, 1);
    this.selected = Math.min(this.selected, this.annotations.length - 1);
    this.render();
  }

  // Arrow keys: move the selected box by a pixel (ten with Shift).
  nudge(dx, dy, pixels) {
    const annotation = this.annotations[this.selected];
    if (!annotation) return;
    const b = annotation.box;
    const sx = Math.min(Math.max((dx * pixels) / this.size.width, -b.x_min), 1 - b.x_max);
    const sy = Math.min(Math.max((dy * pixels) / this.size.height, -b.y_min), 1 - b.y_max);
    Object.assign(b, { x_min: b.x_min + sx, x_max: b.x_max + sx, y_min: b.y_min + sy, y_max: b.y_max + sy });
    annotation.from_prelabel = false;
    this.render();
  }

  update(changes) {
    const annotation = this.annotations[this.selected];
    if (!annotation) return;
    if (changes.class_name !== undefined && changes.class_name !== annotation.class_name) annotation.from_prelabel = false;
    Object.assign(annotation, changes);
    this.render();
  }
}

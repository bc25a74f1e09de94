// Small DOM helpers: elements built with text nodes (never HTML strings), so data cannot inject markup.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "style") node.style.cssText = value; // CSSOM: allowed by the pages' CSP
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...present(children));
  return node;
}

// Children as given: nested lists flattened, null / undefined / false left out.
export function present(children) {
  return children.flat(Infinity).filter((child) => child !== null && child !== undefined && child !== false);
}

export function fill(node, ...children) {
  node.replaceChildren(...present(children));
  return node;
}

export function main(title, ...children) {
  const root = document.getElementById("main");
  fill(root, el("h1", {}, title), children);
  return root;
}

export function when(seconds) {
  if (!seconds) return "";
  return new Date(seconds * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

// Proto JSON timestamps are RFC 3339 strings.
export function timeText(stamp) {
  return stamp ? stamp.replace("T", " ").replace(/(\.\d+)?Z$/, "Z") : "";
}

export const fixed = (value, digits = 3) => (value === undefined || value === null ? "–" : Number(value).toFixed(digits));

export function status(text, kind = "") {
  return el("p", { role: "status", class: kind }, text);
}

// The API's answer to an error, as a line for the page.
export function problem(error) {
  return el("p", { role: "alert", class: "error" }, `${error.message}${error.code ? ` (${error.code})` : ""}`);
}

export function table(headers, rows, caption) {
  return el(
    "table",
    {},
    caption ? el("caption", { class: "muted" }, caption) : null,
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col", class: h.num ? "num" : null }, h.text ?? h)))),
    el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c, i) => el("td", { class: headers[i]?.num || typeof c === "number" ? "num" : null }, c instanceof Node ? c : String(c)))))),
  );
}

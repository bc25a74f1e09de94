// Explore: the thumbnail grid over the query language, facets with counts, sort, "more like this".
// The URL holds the view (q, sort, similar, frame), so a link reproduces it.

import { curation, thumbnailUrl } from "./api.js";
import { el, fill, fixed, main, problem, timeText } from "./dom.js";
import { frameView } from "./frame.js";

const config = JSON.parse(document.getElementById("config").textContent);
const FACET_TITLES = { status: "Status", reason: "Reason", camera: "Camera", class: "Class", review: "Review", eval: "Evaluation" };
const VALIDATE_AFTER_MS = 250;

const params = () => new URLSearchParams(location.search);
const hasSort = (q) => /(^|\s)sort:/i.test(q);

// The query sent: the box's text, plus the sort menu's choice unless the text names a sort.
function effectiveQuery(q, sort) {
  return sort && !hasSort(q) ? `${q} sort:${sort}`.trim() : q;
}

function navigate(changes, { replace = false, rerender = true } = {}) {
  const next = params();
  for (const [key, value] of Object.entries(changes)) {
    if (value) next.set(key, value);
    else next.delete(key);
  }
  const url = `${location.pathname}${next.toString() ? `?${next}` : ""}`;
  history[replace ? "replaceState" : "pushState"](null, "", url);
  if (rerender) render();
}

// Where the error's quoted term sits in the query, to mark it.
function markTerm(query, message) {
  const quoted = /'([^']+)'/.exec(message);
  const at = quoted ? query.indexOf(quoted[1]) : -1;
  if (at < 0) return [query];
  return [query.slice(0, at), el("mark", {}, quoted[1]), query.slice(at + quoted[1].length)];
}

function card(record) {
  const id = record.frame.frame_id;
  const reasons = (record.reasons ?? []).map((r) => r.replace("REJECT_REASON_", "").toLowerCase());
  const state = (record.status ?? "").replace("FRAME_STATUS_", "").toLowerCase();
  const captured = timeText(record.frame.captured_at);
  const link = new URLSearchParams(location.search);
  link.set("frame", id);
  return el(
    "li",
    { class: "card", dataset: { frameId: id } },
    el(
      "a",
      { class: "open", href: `?${link}`, onclick: (event) => { event.preventDefault(); navigate({ frame: id }, { rerender: false }); openFrame(id); } },
      reasons.includes("corrupt")
        ? el("div", { class: "undecodable", role: "img", "aria-label": `Frame ${id.slice(0, 12)}: the file does not decode` }, "does not decode")
        : el("img", { src: thumbnailUrl(id), loading: "lazy", width: 256, height: 192,
          alt: `Frame ${id.slice(0, 12)} from ${record.frame.camera_id} at ${captured}, ${state}` }),
      el(
        "div",
        { class: "meta" },
        el("div", {}, el("strong", {}, record.frame.camera_id), " ", el("span", { class: "muted" }, captured)),
        el("span", { class: `tag ${state}` }, state),
        record.priority ? el("span", { class: "tag" }, `priority ${fixed(record.priority.total ?? 0, 2)}`) : null,
        reasons.map((r) => el("span", { class: "tag reason" }, r)),
      ),
    ),
    el("div", { class: "actions" }, el("button", { type: "button", onclick: () => navigate({ similar: id, frame: "" }) }, "More like this")),
  );
}

function facets(counts, query) {
  const terms = query.split(/\s+/).filter(Boolean);
  return (counts.facets ?? []).map((facet) => {
    const values = Object.entries(facet.counts ?? {}).sort((a, b) => b[1] - a[1]);
    if (!values.length) return null;
    return el(
      "section",
      { "aria-label": FACET_TITLES[facet.key] ?? facet.key },
      el("h2", {}, FACET_TITLES[facet.key] ?? facet.key),
      values.map(([value, count]) => {
        const term = `${facet.key}:${value}`;
        const chosen = terms.includes(term);
        // A key given twice means either: a click adds the value beside the chosen ones, or
        // takes a chosen one out. Counts leave the key's own terms out (disjunctive facets).
        const next = chosen ? terms.filter((t) => t !== term) : [...terms, term];
        return el(
          "button",
          { type: "button", dataset: { term }, "aria-pressed": String(chosen), onclick: () => navigate({ q: next.join(" ") }) },
          el("span", {}, value),
          el("span", { class: "count" }, String(count)),
        );
      }),
    );
  });
}

let controller = null;

async function render() {
  performance.mark("framesift:query"); // with framesift:grid, what bench/ui.py reads
  delete document.body.dataset.gridReady;
  controller?.abort();
  controller = new AbortController();
  const { signal } = controller;
  const q = params().get("q") ?? "";
  const sort = params().get("sort") ?? "";
  const similar = params().get("similar");
  const text = params().get("text") ?? "";
  const sent = effectiveQuery(q, sort);

  const input = el("input", { type: "search", id: "q", name: "q", value: q, autocomplete: "off", spellcheck: "false",
    "aria-describedby": "q-problem", placeholder: 'camera:cam-1 status:rejected reason:blurry brightness<0.2 "text"' });
  const problemLine = el("p", { id: "q-problem", class: "problem error", "aria-live": "polite" });
  // A description searched with the text encoder; the query's filters still apply.
  const textInput = el("input", { type: "search", id: "text", name: "text", value: text, autocomplete: "off",
    placeholder: "a cyclist at night" });
  const sortMenu = el(
    "select",
    { id: "sort", "aria-label": "Sort by", onchange: (event) => navigate({ sort: event.target.value }) },
    el("option", { value: "" }, "newest first"),
    config.sortFields.flatMap((name) => [
      el("option", { value: `-${name}`, selected: sort === `-${name}` }, `${name} ↓`),
      el("option", { value: name, selected: sort === name }, `${name} ↑`),
    ]),
  );
  const form = el(
    "form",
    { class: "toolbar", role: "search", onsubmit: (event) => { event.preventDefault(); navigate({ q: input.value.trim(), text: textInput.value.trim(), similar: "" }); } },
    el("div", { class: "query" }, el("label", { for: "q", class: "muted" }, "Query"), input, problemLine),
    el("div", { class: "query text-query" }, el("label", { for: "text", class: "muted" }, "Looks like"), textInput),
    el("label", { for: "sort", class: "muted" }, "Sort"),
    sortMenu,
    el("button", { class: "primary", type: "submit" }, "Apply"),
  );
  const total = el("p", { id: "total", role: "status" }, "Counting…");
  const facetPanel = el("aside", { class: "facets", "aria-label": "Facets" });
  const grid = el("ul", { class: "grid", id: "grid", "aria-label": "Frames" });
  const more = el("div");
  main(similar ? "Similar frames" : text ? "Text search" : "Explore", form,
    similar ? el("p", {}, `Nearest to frame ${similar.slice(0, 12)} in the embedding space. `,
      el("a", { href: "?", onclick: (event) => { event.preventDefault(); navigate({ similar: "" }); } }, "Back to the query")) : null,
    total, el("div", { class: "layout" }, facetPanel, el("div", {}, grid, more)));

  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => validate(input, problemLine), VALIDATE_AFTER_MS);
  });
  if (q) validate(input, problemLine);

  if (similar) {
    try {
      const answer = await curation.similar(similar, q);
      fill(grid, ...(answer.hits ?? []).map((hit) => card(hit.record)));
      total.textContent = `${(answer.hits ?? []).length} nearest frames (${answer.model})`;
    } catch (error) {
      fill(total, problem(error));
    }
  } else if (text) {
    try {
      const answer = await curation.search(text, sent, 60, signal);
      fill(grid, ...(answer.hits ?? []).map((hit) => card(hit.record)));
      total.textContent = `${(answer.hits ?? []).length} frames nearest to “${text}” (${answer.model})`;
      performance.mark("framesift:grid");
    } catch (error) {
      if (error.name !== "AbortError") fill(total, problem(error));
    }
  } else {
    // The grid first, then the counts (which scan every match): they do not compete.
    await loadPage(sent, "", grid, more, total, signal);
    curation.counts(sent, signal).then(
      (counts) => {
        total.textContent = `${Number(counts.total ?? 0).toLocaleString("en")} frames`;
        fill(facetPanel, ...facets(counts, q).filter(Boolean));
      },
      (error) => error.name !== "AbortError" && fill(total, problem(error)),
    );
  }
  const open = params().get("frame");
  if (open) openFrame(open);
}

async function loadPage(query, token, grid, more, total, signal) {
  try {
    const page = await curation.frames(query, token, 60, signal);
    grid.append(...(page.frames ?? []).map(card));
    if (!grid.children.length) fill(grid, el("li", { class: "muted" }, "No frame matches."));
    fill(more, 
      page.next_page_token
        ? el("button", { type: "button", id: "more", onclick: () => loadPage(query, page.next_page_token, grid, more, total, signal) }, "Load more")
        : "",
    );
    if (!token) performance.mark("framesift:grid");
    document.body.dataset.gridReady = "true"; // for the browser tests and the UI bench
  } catch (error) {
    if (error.name !== "AbortError") fill(total, problem(error));
  }
}

async function validate(input, line) {
  const text = input.value.trim();
  try {
    await curation.counts(text);
    input.removeAttribute("aria-invalid");
    fill(line, );
  } catch (error) {
    if (error.status !== 400) return;
    input.setAttribute("aria-invalid", "true");
    fill(line, el("span", {}, error.message), el("br"), el("code", {}, ...markTerm(text, error.message)));
  }
}

function openFrame(id) {
  const dialog = el("dialog", { "aria-label": `Frame ${id}`, id: "frame-dialog" });
  const close = el("button", { type: "button", onclick: () => dialog.close() }, "Close (Esc)");
  dialog.append(el("div", { class: "toolbar" }, close, el("a", { href: `/ui/frames/${encodeURIComponent(id)}` }, "Open as a page")));
  dialog.append(frameView(id, { similar: (frameId) => navigate({ similar: frameId, frame: "" }) }));
  dialog.addEventListener("close", () => { dialog.remove(); if (params().get("frame")) navigate({ frame: "" }, { rerender: false }); });
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
}

window.addEventListener("popstate", render);
render();

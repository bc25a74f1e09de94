"""Explore and the frame page in a real browser, on frames the demo curated from real footage."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import httpx
from playwright.sync_api import Page, expect

DEADLINE_MS = 20_000


def counted(served, query: str) -> int:
    return httpx.get(f"{served.url}/v1/curation/counts", params={"q": query}, timeout=10).json()["total"]


def grid(page: Page) -> None:
    page.wait_for_selector("body[data-grid-ready]", timeout=DEADLINE_MS)


def test_the_grid_shows_thumbnails_and_the_total(served, page: Page) -> None:
    page.goto(served.url + "/")
    grid(page)
    cards = page.locator("#grid .card")
    assert cards.count() > 0
    expect(page.locator("#total")).to_have_text(re.compile(rf"^{counted(served, '')} frames$"), timeout=DEADLINE_MS)
    first = cards.locator("img").first  # a corrupt frame's card has none
    expect(first).to_have_attribute("alt", re.compile(r"^Frame \w+"))
    loaded = "img => img.complete && img.naturalWidth > 0"
    page.wait_for_function(loaded, arg=first.element_handle(), timeout=DEADLINE_MS)
    assert first.evaluate("img => img.naturalWidth") <= 256  # a thumbnail, not the full frame


def test_a_query_filters_the_grid_and_a_bad_one_shows_its_error_at_the_term(served, page: Page) -> None:
    page.goto(served.url + "/")
    grid(page)
    page.fill("#q", "status:rejected")
    page.press("#q", "Enter")
    expect(page).to_have_url(re.compile(r"q=status%3Arejected"), timeout=DEADLINE_MS)
    expect(page.locator("#total")).to_have_text(f"{counted(served, 'status:rejected')} frames", timeout=DEADLINE_MS)
    states = page.locator("#grid .card .tag.rejected")
    expect(states.first).to_be_visible()
    assert states.count() == page.locator("#grid .card").count()  # every card shown is rejected

    page.fill("#q", "camera:street-bikes brightnes<0.2")
    problem = page.locator("#q-problem")
    expect(problem).to_contain_text("did you mean brightness", timeout=DEADLINE_MS)
    expect(problem.locator("mark")).to_have_text("brightnes<0.2")
    expect(page.locator("#q")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#q")).to_be_editable()
    page.fill("#q", "camera:street-bikes brightness<0.2")
    expect(problem).to_have_text("", timeout=DEADLINE_MS)


def test_a_facet_click_adds_its_term_to_the_url_and_the_grid(served, page: Page) -> None:
    page.goto(served.url + "/?q=status:rejected")
    grid(page)
    facet = page.locator('.facets button[data-term^="reason:"]').first
    expect(facet).to_be_visible(timeout=DEADLINE_MS)
    term = facet.get_attribute("data-term")
    shown = int(facet.locator(".count").inner_text())
    facet.click()
    expect(page).to_have_url(re.compile(re.escape(term.replace(":", "%3A"))), timeout=DEADLINE_MS)
    query = parse_qs(urlparse(page.url).query)["q"][0]
    assert query == f"status:rejected {term}"
    expect(page.locator("#total")).to_have_text(f"{shown} frames", timeout=DEADLINE_MS)
    reason = term.split(":", 1)[1]
    cards = page.locator("#grid .card")
    assert cards.count() == min(shown, 60)
    assert page.locator("#grid .card", has=page.locator(".tag.reason", has_text=reason)).count() == cards.count()

    # The chosen value shows as pressed; a second click takes the term out again.
    chosen = page.locator(f'.facets button[data-term="{term}"]')
    expect(chosen).to_have_attribute("aria-pressed", "true")
    chosen.click()
    expect(page.locator("#total")).to_have_text(f"{counted(served, 'status:rejected')} frames", timeout=DEADLINE_MS)
    assert parse_qs(urlparse(page.url).query)["q"][0] == "status:rejected"


def test_a_link_reproduces_the_view_and_opens_the_frame(served, page: Page) -> None:
    first = httpx.get(f"{served.url}/v1/curation/frames", params={"q": "reason:near_duplicate", "page_size": 1}).json()
    frame = first["frames"][0]
    page.goto(f"{served.url}/?q=reason:near_duplicate&sort=-captured_at&frame={frame['frame']['frame_id']}")
    dialog = page.locator("#frame-dialog")
    expect(dialog).to_be_visible(timeout=DEADLINE_MS)
    expect(page.locator("#sort")).to_have_value("-captured_at")
    expect(page.locator("#q")).to_have_value("reason:near_duplicate")
    # A duplicate is shown beside the frame it duplicates.
    kept = dialog.locator("#duplicate img").nth(1)
    expect(kept).to_have_attribute("src", re.compile(re.escape(frame["duplicate_of"])), timeout=DEADLINE_MS)
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    assert "frame=" not in page.url


def test_more_like_this_lists_the_nearest_frames(served, page: Page) -> None:
    chosen = httpx.get(f"{served.url}/v1/curation/frames", params={"q": "status:selected", "page_size": 1}).json()
    frame_id = chosen["frames"][0]["frame"]["frame_id"]
    page.goto(f"{served.url}/?q=status:selected")
    grid(page)
    page.locator(f'#grid .card[data-frame-id="{frame_id}"] button', has_text="More like this").click()
    expect(page).to_have_url(re.compile(f"similar={frame_id}"), timeout=DEADLINE_MS)
    expect(page.locator("#total")).to_have_text(re.compile(r"^\d+ nearest frames"), timeout=DEADLINE_MS)
    assert page.locator("#grid .card").count() > 0


def test_the_stats_page_shows_the_reduction_and_the_cost_avoided(served, page: Page) -> None:
    stats = httpx.get(f"{served.url}/v1/curation/stats", timeout=10).json()
    page.goto(served.url + "/ui/stats")
    panel = page.locator("#curation-stats")
    expect(panel).to_contain_text(f"frames ingested{stats['frames_ingested']}", timeout=DEADLINE_MS)
    expect(panel).to_contain_text(f"{stats['reduction_percent']:.1f} %")
    expect(panel).to_contain_text(f"{stats['labelling_cost_avoided']:.2f}")
    expect(page.locator("#label-stats")).to_contain_text("label error rate")
    # Over time: a row per capture day with a segment per reason, and a row per selection window.
    days, windows = stats["rejections_by_day"], stats["windows"]
    assert days, "the demo's footage has frames"
    assert windows, "and closed selection windows"
    expect(page.locator("#rejections-by-day tbody tr")).to_have_count(len(days))
    first = page.locator("#rejections-by-day tbody tr").first
    expect(first).to_contain_text(days[0]["day"])
    expect(first.locator(".segment")).to_have_count(len(days[0].get("by_reason", {})))
    expect(page.locator("#windows tbody tr")).to_have_count(len(windows))
    expect(page.locator("#windows tbody tr").first).to_contain_text(windows[0]["window_id"])


def test_text_search_has_its_own_box_and_says_what_enables_it(served, page: Page) -> None:
    page.goto(served.url + "/?q=status:selected")
    grid(page)
    page.fill("#text", "a cyclist at night")
    page.press("#text", "Enter")
    # The demo embeds with the weights-free descriptor: the page says which setting enables text
    # search (the API's 412), and the URL keeps both the text and the query's filters.
    expect(page.locator("#total")).to_contain_text("text search needs a CLIP model", timeout=DEADLINE_MS)
    expect(page.locator("h1")).to_have_text("Text search")
    shown = parse_qs(urlparse(page.url).query)
    assert (shown["text"], shown["q"]) == (["a cyclist at night"], ["status:selected"])
    answer = httpx.get(f"{served.url}/v1/curation/search", params={"text": "a cyclist at night"}, timeout=10)
    assert (answer.status_code, answer.json()["code"]) == (412, "text_search_unavailable")

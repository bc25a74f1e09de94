"""Label and review in a real browser through the label service's leases, and what they produce:
a submission stored, a review verdict stored, `labels.completed` folded into curate's records."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.support.waiting import eventually_sync

DEADLINE_MS = 20_000


def sign_in(page: Page, url: str, path: str, key: str) -> None:
    page.goto(url + path)
    page.fill("#api-key", key)
    page.press("#api-key", "Enter")


def draw(page: Page, x0: float, y0: float, x1: float, y1: float) -> None:
    """Drag a box on the task's image, corners given as fractions of the image."""
    image = page.locator(".stage img").first
    expect(image).to_be_visible(timeout=DEADLINE_MS)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    box = image.bounding_box()
    page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y0 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + x1 * box["width"], box["y"] + y1 * box["height"], steps=5)
    page.mouse.up()


def task_of(served, frame_id: str, key: str) -> dict:
    answer = httpx.get(
        f"{served.url}/v1/labels/frames/{frame_id}/task", headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def leased_frame(page: Page) -> str:
    alt = page.locator(".stage img").first.get_attribute("alt")
    return alt.split()[1]  # "Frame <id> from camera ..."


def record(served, frame_id: str) -> dict:
    return httpx.get(f"{served.url}/v1/curation/frames/{frame_id}", timeout=10).json()


def test_labelling_and_review_in_the_browser(served, page: Page) -> None:
    # The labeller's first task: a car drawn with the mouse, class by key, an attribute, submit.
    sign_in(page, served.url, "/ui/label", served.labeller_key)
    draw(page, 0.2, 0.3, 0.6, 0.7)
    page.keyboard.press("3")  # the ontology's third box class: car
    page.check("#attr-parked")
    # The same car again, drawn from outside the first box (a drag that starts on a box moves it):
    # a duplicate the QA checks flag.
    draw(page, 0.61, 0.71, 0.19, 0.29)
    first = leased_frame(page)
    page.keyboard.press("Enter")
    expect(page.locator("[role=status].ok")).to_contain_text("submitted: review", timeout=DEADLINE_MS)

    submitted = task_of(served, first, served.reviewer_key)
    assert submitted["state"] == "review"
    assert submitted["qa_flags"] == ["duplicate_box"]
    assert [f["annotation"] for f in submitted["qa_findings"]] == [1]
    annotation, _duplicate = submitted["annotations"]
    assert annotation["class_name"] == "car"
    assert annotation["attributes"] == {"parked": "true"}
    box = annotation["box"]
    assert abs(box["x_min"] - 0.2) < 0.02
    assert abs(box["y_max"] - 0.7) < 0.02

    # The next task came up at once; a second box is drawn, one deleted, then submitted: past the
    # new-labeller review, it completes and labels.completed reaches curate.
    draw(page, 0.1, 0.1, 0.3, 0.3)
    second = leased_frame(page)
    assert second != first
    draw(page, 0.5, 0.5, 0.9, 0.9)
    page.keyboard.press("Delete")
    expect(page.locator("#selected-box")).to_contain_text("Box 1 of 1")
    page.keyboard.press("Enter")
    expect(page.locator("[role=status].ok")).to_contain_text("submitted: done", timeout=DEADLINE_MS)
    eventually_sync(lambda: record(served, second)["status"] == "FRAME_STATUS_LABELLED", timeout=30,
                    what="labels.completed folded into curate")  # fmt: skip
    assert record(served, second)["review_verdict"] == "not_reviewed"

    # The reviewer sees the first task and accepts it by keyboard.
    page.evaluate("sessionStorage.clear()")
    sign_in(page, served.url, "/ui/review", served.reviewer_key)
    shown = f"Frame {first} from camera {submitted['frame']['camera_id']}"
    expect(page.locator(".stage img").first).to_have_attribute("alt", shown, timeout=DEADLINE_MS)
    expect(page.locator("#selected-box")).to_contain_text("car")
    # The finding is drawn on the box it is about: a halo, the issue after its label, the detail
    # as its tooltip.
    flagged = page.locator(".stage g.overlay-box.flagged")
    expect(flagged).to_have_count(1, timeout=DEADLINE_MS)
    expect(flagged).to_have_attribute("data-index", "1")
    expect(flagged.locator("text")).to_contain_text("⚠ duplicate_box")
    expect(flagged.locator("title")).to_contain_text("duplicate_box: same car as annotation 0")
    page.keyboard.press("a")
    expect(page.locator("[role=status].ok")).to_contain_text("accepted", timeout=DEADLINE_MS)
    reviewed = task_of(served, first, served.reviewer_key)
    assert (reviewed["state"], reviewed["verdict"], reviewed["reviewer"]) == ("done", "accepted", "rita")
    eventually_sync(lambda: record(served, first).get("review_verdict") == "accepted", timeout=30,
                    what="the verdict on labels.completed")  # fmt: skip

    # The frame page shows the labels as an overlay, and the history, for a signed-in reviewer.
    page.goto(f"{served.url}/ui/frames/{first}")
    labels = page.locator('#frame-view g[data-source="labels"] rect')
    expect(labels).to_have_count(2, timeout=DEADLINE_MS)
    expect(page.locator("#frame-view")).to_contain_text("rita: accepted")
    page.uncheck('input[name="show-labels"]')
    expect(labels).to_have_count(0)


def test_writes_need_a_signed_in_labeller(served, page: Page) -> None:
    sign_in(page, served.url, "/ui/label", "not-a-key")
    expect(page.locator("[role=alert]")).to_contain_text("unauthenticated", timeout=DEADLINE_MS)
    page.goto(served.url + "/ui/review")
    expect(page.locator("[role=alert]")).to_be_visible(timeout=DEADLINE_MS)
    # A labeller who is not a reviewer cannot review.
    page.evaluate("sessionStorage.clear()")
    sign_in(page, served.url, "/ui/review", served.second_labeller_key)
    expect(page.locator("[role=alert]")).to_contain_text("reviewer", timeout=DEADLINE_MS)

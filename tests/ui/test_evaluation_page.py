"""The evaluation and stats pages in a real browser, over an evaluate service that ran two
model versions on labelled frames (the demo has no detector, so its own runs come from here)."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from framesift.app.registry import build_adapters
from framesift.services.evaluate.settings import EvaluateSettings
from framesift.services.evaluate.tables import Prediction, Truth
from tests.support.coco_sets import STRONG, WEAK, frame_events
from tests.support.running import running
from tests.support.waiting import eventually
from tests.ui.conftest import CHROMIUM, SCREENSHOTS, need_a_browser

TOKEN = "operator-for-the-evaluation-page"
DEADLINE_MS = 20_000


def _count(engine, table) -> int:
    import sqlalchemy as sa

    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(table.__table__)).scalar_one()


@pytest.fixture
async def evaluated(embedded_settings):
    need_a_browser()
    _, _, labels, embedded = frame_events(images=60)
    settings = embedded_settings.model_copy(
        update={"operator_token": SecretStr(TOKEN), "evaluate": EvaluateSettings(resamples=100)}
    )
    adapters = build_adapters(settings, services=["evaluate"])
    async with running(adapters, ["evaluate"]) as runner:
        publisher = adapters.publisher()
        for event in [*labels, *embedded]:
            await publisher.publish(event)
        await eventually(
            lambda: _count(adapters.engine, Truth) == 60 and _count(adapters.engine, Prediction) == 120,
            timeout=60, what="evaluate to fold both topics",
        )  # fmt: skip
        url = f"http://127.0.0.1:{runner.http_port}"
        async with httpx.AsyncClient(base_url=url, headers={"authorization": f"Bearer {TOKEN}"}, timeout=120) as client:
            runs = {}
            for model in (WEAK, STRONG):
                made = await client.post("/v1/evaluations/runs", json={"model_version": model, "slices": ["camera"]})
                assert made.status_code == 201, made.text
                runs[model] = made.json()
            found = await client.get(f"/v1/evaluations/runs/{runs[STRONG]['run_id']}/label-issues")
        yield url, runs, found.json().get("issues", [])


async def test_the_evaluation_page_shows_metrics_slices_issues_and_a_comparison(evaluated, request) -> None:
    from playwright.async_api import async_playwright, expect

    url, runs, issues = evaluated
    newest = runs[STRONG]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            await page.goto(url + "/ui/evaluation")
            run = page.locator("#run")
            await expect(run).to_contain_text(f"{STRONG} on the", timeout=DEADLINE_MS)
            await expect(run.locator("table").first).to_contain_text(f"{newest['metrics']['map']:.3f}")
            # Per class: AP in a table, and the precision-recall curve at IoU 0.5, one line each.
            classes = newest["classes"]
            assert classes, "the report keeps its classes"
            await expect(page.locator("#by-class tbody tr")).to_have_count(len(classes))
            drawn = [c["name"] for c in classes if len(c.get("precision_at_recall", [])) > 1]
            await expect(page.locator("#pr-curves polyline")).to_have_count(len(drawn))
            first_class = page.locator(f'#pr-curves polyline[data-class="{drawn[0]}"]')
            ap50 = next(c["ap50"] for c in classes if c["name"] == drawn[0])
            await expect(first_class.locator("title")).to_have_text(f"{drawn[0]}: AP50 {ap50:.3f}")
            slice_rows = run.locator("table").nth(2).locator("tbody tr")
            await expect(slice_rows).to_have_count(len(newest["slices"]))
            first_slice = newest["slices"][0]["slice"].replace(":", "%3A")
            await expect(slice_rows.first.locator("a")).to_have_attribute("href", f"/?q={first_slice}")

            listed = page.locator("#label-issues tbody tr")
            await expect(listed).to_have_count(len(issues))

            await page.select_option("#run-menu", runs[WEAK]["run_id"])
            await expect(run).to_contain_text(f"{WEAK} on the", timeout=DEADLINE_MS)
            assert f"run={runs[WEAK]['run_id']}" in page.url

            await page.select_option('select[name="a"]', STRONG)
            await page.select_option('select[name="b"]', WEAK)
            await page.get_by_role("button", name="Compare").click()
            verdict = page.locator("section", has_text="Compare two model versions").locator("tbody tr").first
            await expect(verdict).to_contain_text("all", timeout=DEADLINE_MS)
            await expect(verdict).to_contain_text("better")  # the strong model is clearly better overall
        finally:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
            await browser.close()
    assert not errors, errors

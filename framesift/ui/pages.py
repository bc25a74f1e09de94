"""The browser UI's pages and assets, served on the same port as the APIs.

Each page is a small HTML shell whose script module renders it from the services' HTTP JSON APIs
(/v1/curation, /v1/labels, /v1/evaluations), the same calls any client makes: the UI imports no
service, works in the embedded process and behind a distributed deployment's ingress alike, and
needs no build step (plain ES modules, no library, nothing from a CDN).

Write actions send the labeller's API key as a bearer token from the page's session storage,
never as a cookie, so another site cannot make the browser act for them (no CSRF to defend).
"""

from __future__ import annotations

import html
import json
import re
from functools import partial
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from framesift.contracts.query import KEYS, SORT_FIELDS

STATIC = Path(__file__).parent / "static"
# The pages in the navigation: path, title, the script module that renders it.
PAGES = (
    ("/", "Explore", "explore.js"),
    ("/ui/label", "Label", "label.js"),
    ("/ui/review", "Review", "review.js"),
    ("/ui/stats", "Stats", "stats.js"),
    ("/ui/evaluation", "Evaluation", "evaluation.js"),
)
_FRAME_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# The pages' own content: scripts and styles from this server only, images from it or as data.
POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# Every module fetched at once, instead of one level of imports after another.
PRELOADS = "".join(
    f'<link rel="modulepreload" href="/ui/static/{module.name}">' for module in sorted(STATIC.glob("*.js"))
)
# What the scripts need to know of the query language, from its one definition.
CONFIG = json.dumps({"sortFields": list(SORT_FIELDS), "queryKeys": list(KEYS)}).replace("<", "\\u003c")


def page(title: str, script: str, active: str) -> HTMLResponse:
    links = "".join(
        f'<a href="{path}"{" aria-current=page" if path == active else ""}>{name}</a>' for path, name, _ in PAGES
    )
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} · framesift</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/ui/static/app.css">
<script type="application/json" id="config">{CONFIG}</script>
{PRELOADS}
<script type="module" src="/ui/static/{script}"></script></head>
<body><a class="skip" href="#main">Skip to content</a>
<header><nav aria-label="Pages"><strong class="brand">framesift</strong>{links}
<a href="/api" class="end">API</a></nav></header>
<main id="main" tabindex="-1"><h1>{html.escape(title)}</h1><p class="loading" role="status">Loading…</p></main>
</body></html>"""
    return HTMLResponse(body, headers={"Content-Security-Policy": POLICY, "Cache-Control": "no-cache"})


def install(app: FastAPI) -> None:
    router = APIRouter(include_in_schema=False)

    for path, title, script in PAGES:
        router.add_api_route(path, partial(page, title, script, path), methods=["GET"], response_class=HTMLResponse)

    @router.get("/ui/frames/{frame_id}")
    async def frame(frame_id: str) -> HTMLResponse:
        if not _FRAME_ID.match(frame_id):
            raise HTTPException(404, "not a frame id")
        return page("Frame", "frame-page.js", "/")

    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")

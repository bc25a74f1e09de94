"""The API page at `/api`: what this process serves, generated from its own route table, so it is
never out of date. (`/` is the browser UI.)"""

from __future__ import annotations

import html

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>framesift</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
code{{font-size:14px}}td{{padding:.15rem .8rem .15rem 0;vertical-align:top}}</style></head>
<body><main><h1>framesift</h1>
<p>Services in this process: {services}. Interactive API documentation: <a href="/docs">/docs</a>
(or <a href="/redoc">/redoc</a>); the OpenAPI document: <a href="/openapi.json">/openapi.json</a>.
Health: <a href="/readyz">/readyz</a>, metrics: <a href="/metrics">/metrics</a>.</p>
<h2>HTTP API</h2><table>{rows}</table></main></body></html>"""


def install(app: FastAPI, services: list[str]) -> None:
    @app.get("/api", include_in_schema=False, response_class=HTMLResponse)
    async def index() -> str:
        rows = []
        for raw_path, operations in app.openapi().get("paths", {}).items():
            for method, operation in operations.items():
                path = html.escape(raw_path)
                link = f'<a href="{path}">{path}</a>' if method == "get" and "{" not in raw_path else path
                text = (operation.get("description") or operation.get("summary") or "").strip()
                summary = html.escape(text.splitlines()[0] if text else "")
                rows.append(
                    f"<tr><td><code>{method.upper()}</code></td><td><code>{link}</code></td><td>{summary}</td></tr>"
                )
        return PAGE.format(services=html.escape(", ".join(services)), rows="".join(rows))


def router_endpoints(router: APIRouter, service: str) -> dict:
    """A router's own endpoint list (what `GET <prefix>` answers), from its route table."""
    return {
        "service": service,
        "endpoints": [
            {"methods": sorted(route.methods - {"HEAD"}), "path": route.path}
            for route in router.routes
            if isinstance(route, APIRoute)
        ],
    }

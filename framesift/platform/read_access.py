"""Read protection for production (FRAMESIFT_READ_TOKEN): with a read token set, every read over
HTTP (the UI's pages, the read APIs, images and thumbnails) needs it; unset (the embedded
default), reads are open.

A client presents it as `Authorization: Bearer <token>` (the operator token works too). A browser
signs in once at /ui/sign-in: the token is posted to /v1/session, which sets a cookie holding an
expiry and its HMAC under the token (HttpOnly, SameSite=Strict), since an <img> cannot send a
header. The cookie only opens reads (GET and HEAD): write actions keep needing their own bearer
token, so a cookie the browser sends by itself can never write (no CSRF to defend). Every process
checks the same environment secret: no service's tables are needed (curate's process has no
labeller accounts).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import time
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from framesift.platform.problems import Problem, response

COOKIE = "framesift_read"
SESSION_S = 12 * 3600.0
# Open whatever the setting: probes, metrics, the sign-in itself and the pages' static assets,
# and Label Studio's calls (their own signatures: webhook header, signed image URLs).
OPEN_PREFIXES = (
    "/healthz", "/readyz", "/metrics", "/ui/static/", "/ui/sign-in", "/v1/session", "/v1/labels/label-studio/",
)  # fmt: skip
READS = {"GET", "HEAD"}


def _mac(token: str, expires: int) -> str:
    key = hmac.new(token.encode(), b"framesift read session", hashlib.sha256).digest()
    return hmac.new(key, str(expires).encode(), hashlib.sha256).hexdigest()


def session_value(token: str, now: float, lifetime_s: float = SESSION_S) -> str:
    expires = int(now + lifetime_s)
    return f"{expires}.{_mac(token, expires)}"


def session_ok(token: str, value: str | None, now: float) -> bool:
    expires, _, mac = (value or "").partition(".")
    if not expires.isdigit() or int(expires) <= now:
        return False
    return hmac.compare_digest(_mac(token, int(expires)), mac)


def _bearer_ok(authorization: str | None, accepted: list[bytes]) -> bool:
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    digest = hashlib.sha256(given.strip().encode()).digest()
    return any(hmac.compare_digest(digest, a) for a in accepted)


def _safe_next(target: str) -> str:
    """Where to go after signing in: a path on this server only (never //host or a scheme)."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


class ReadAccess:
    def __init__(self, read_token: str, operator_token: str | None = None, clock: Callable[[], float] = time.time):
        self.token, self.clock = read_token, clock
        self._accepted = [hashlib.sha256(t.encode()).digest() for t in (read_token, operator_token) if t]

    def allows(self, request: Request) -> bool:
        if request.method not in READS or request.url.path.startswith(OPEN_PREFIXES):
            return True  # writes carry their own credentials; open paths need none
        if _bearer_ok(request.headers.get("authorization"), self._accepted):
            return True
        return session_ok(self.token, request.cookies.get(COOKIE), self.clock())

    async def middleware(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if self.allows(request):
            return await call_next(request)
        if "text/html" in request.headers.get("accept", ""):  # a person at a page: to the sign-in
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/ui/sign-in?next={quote(target, safe='')}", status_code=303)
        detail = "reads need the read token here: authorization: Bearer <token>, or sign in at /ui/sign-in"
        return response(Problem(401, "unauthenticated", detail, headers={"WWW-Authenticate": "Bearer"}))

    def routes(self) -> APIRouter:
        router = APIRouter(include_in_schema=False)

        @router.get("/ui/sign-in")
        async def sign_in_page(next: str = "/", failed: bool = False) -> HTMLResponse:
            return HTMLResponse(_page(_safe_next(next), failed), headers={"Cache-Control": "no-store"})

        @router.post("/v1/session")
        async def sign_in(request: Request, token: str = Form(...), next: str = Form("/")) -> Response:
            target = _safe_next(next)
            if not _bearer_ok(f"Bearer {token}", self._accepted):
                return RedirectResponse(f"/ui/sign-in?failed=true&next={quote(target, safe='')}", status_code=303)
            answer = RedirectResponse(target, status_code=303)
            answer.set_cookie(
                COOKIE,
                session_value(self.token, self.clock()),
                max_age=int(SESSION_S),
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
                path="/",
            )
            return answer

        @router.post("/v1/session/end")
        async def sign_out() -> Response:
            answer = RedirectResponse("/ui/sign-in", status_code=303)
            answer.delete_cookie(COOKIE, path="/")
            return answer

        return router


def _page(target: str, failed: bool) -> str:
    error = '<p class="error" role="alert">That is not the read token.</p>' if failed else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · framesift</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/ui/static/app.css"></head>
<body><main id="main"><h1>Sign in to read</h1>{error}
<form class="signin panel" method="post" action="/v1/session">
<label for="token">Read token (FRAMESIFT_READ_TOKEN)</label>
<input type="password" id="token" name="token" autocomplete="current-password" required>
<input type="hidden" name="next" value="{html.escape(target)}">
<button class="primary" type="submit">Sign in</button></form></main></body></html>"""


def install(app: FastAPI, read_token: str | None, operator_token: str | None) -> ReadAccess | None:
    """Protect reads when a read token is set; nothing changes without one."""
    if not read_token:
        return None
    access = ReadAccess(read_token, operator_token)
    app.include_router(access.routes())
    app.middleware("http")(access.middleware)
    return access

"""Read protection (FRAMESIFT_READ_TOKEN) on a running process: reads need the read token (or the
operator's) as a bearer token or a browser's signed-in cookie; probes, the sign-in and static
assets stay open; the cookie never opens a write."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from framesift.app.registry import build_adapters
from framesift.platform.read_access import COOKIE, session_ok, session_value
from tests.support.running import running

READ = "read-token-for-tests"
OPERATOR = "operator-token-for-tests"


def test_a_session_cookie_is_signed_by_the_token_and_expires() -> None:
    value = session_value(READ, now=1_000.0, lifetime_s=60)
    assert session_ok(READ, value, now=1_059.0)
    assert not session_ok(READ, value, now=1_060.0)  # expired
    assert not session_ok("another-token", value, now=1_001.0)
    expires, _, mac = value.partition(".")
    assert not session_ok(READ, f"{int(expires) + 3600}.{mac}", now=1_001.0)  # a longer life forged
    for broken in ("", "nonsense", f"{expires}.", None):
        assert not session_ok(READ, broken, now=1_001.0)


async def test_reads_need_the_read_token_and_a_browser_signs_in_once(embedded_settings) -> None:
    settings = embedded_settings.model_copy(
        update={"read_token": SecretStr(READ), "operator_token": SecretStr(OPERATOR)}
    )
    adapters = build_adapters(settings, services=["curate"])
    async with running(adapters, ["curate"]) as runner:
        url = f"http://127.0.0.1:{runner.http_port}"
        async with httpx.AsyncClient(base_url=url, timeout=20) as client:
            refused = await client.get("/v1/curation/frames")
            assert (refused.status_code, refused.json()["code"]) == (401, "unauthenticated")
            assert "sign in at /ui/sign-in" in refused.json()["detail"]
            assert (await client.get("/v1/curation/frames/f-1/thumbnail")).status_code == 401
            page = await client.get("/ui/stats", headers={"accept": "text/html"})
            assert (page.status_code, page.headers["location"]) == (303, "/ui/sign-in?next=%2Fui%2Fstats")
            for open_path in ("/healthz", "/ui/static/app.css", "/ui/sign-in"):
                assert (await client.get(open_path)).status_code == 200, open_path

            for token in (READ, OPERATOR):
                allowed = await client.get("/v1/curation/frames", headers={"authorization": f"Bearer {token}"})
                assert allowed.status_code == 200
            wrong = await client.get("/v1/curation/frames", headers={"authorization": "Bearer not-it"})
            assert wrong.status_code == 401

            failed = await client.post("/v1/session", data={"token": "not-it", "next": "/ui/stats"})
            assert (failed.status_code, failed.headers["location"]) == (
                303,
                "/ui/sign-in?failed=true&next=%2Fui%2Fstats",
            )
            assert COOKIE not in failed.cookies
            elsewhere = await client.post("/v1/session", data={"token": READ, "next": "//evil.example/"})
            assert elsewhere.headers["location"] == "/"  # never to another site
            signed = await client.post("/v1/session", data={"token": READ, "next": "/ui/stats"})
            assert (signed.status_code, signed.headers["location"]) == (303, "/ui/stats")
            cookie = signed.headers["set-cookie"]
            assert "HttpOnly" in cookie
            assert "SameSite=strict" in cookie
        # A browser: the cookie alone, in a client of its own.
        async with httpx.AsyncClient(base_url=url, cookies={COOKIE: signed.cookies[COOKIE]}, timeout=20) as browser:
            assert (await browser.get("/ui/stats")).status_code == 200
            assert (await browser.get("/v1/curation/stats")).status_code == 200
            # The cookie opens reads only: a write still needs its own token.
            write = await browser.post("/v1/curation/windows:flush")
            assert (write.status_code, write.json()["code"]) == (401, "unauthenticated")
            flushed = await browser.post("/v1/curation/windows:flush", headers={"authorization": f"Bearer {OPERATOR}"})
            assert flushed.status_code == 200
            ended = await browser.post("/v1/session/end")
            assert f'{COOKIE}=""' in ended.headers["set-cookie"]  # signing out empties it (Max-Age=0)
            assert "Max-Age=0" in ended.headers["set-cookie"]

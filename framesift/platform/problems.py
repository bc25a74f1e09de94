"""One error shape for every HTTP answer that is not a success: RFC 9457 problem details.

    {"type": "urn:framesift:problem:not_found", "title": "Not Found", "status": 404,
     "code": "not_found", "detail": "no frame 'f00'"}

`code` is stable and machine-readable (the same names as the gRPC error's meaning); `detail` is
for people and never carries an internal repr. Services raise `Problem` (or map their exceptions
with `problem_for`); the runner installs `install(app)`, which also turns FastAPI's own errors
(unknown route, wrong method, a parameter that does not validate) into the same shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from framesift.contracts.errors import ClientError

MEDIA_TYPE = "application/problem+json"
_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}


class Problem(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.headers = dict(headers or {})
        self.extra = extra


def problem_for(exc: Exception, error: ClientError | None) -> Problem:
    """The problem a client gets for `exc`; re-raises what is not a client's error (a bug: a 500)."""
    if error is None:
        raise exc
    headers = {"WWW-Authenticate": "Bearer"} if error.http_status == 401 else {}
    if error.http_status == 503:
        headers["Retry-After"] = "5"  # nothing was done; retrying later is safe
    return Problem(error.http_status, error.name, str(exc), headers=headers)


def response(problem: Problem) -> JSONResponse:
    body = {
        "type": f"urn:framesift:problem:{problem.code}",
        "title": HTTPStatus(problem.status).phrase,
        "status": problem.status,
        "code": problem.code,
        "detail": problem.detail,
        **problem.extra,
    }
    return JSONResponse(body, status_code=problem.status, headers=problem.headers, media_type=MEDIA_TYPE)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def on_problem(_request: Request, exc: Problem) -> JSONResponse:
        return response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _CODES.get(exc.status_code, f"http_{exc.status_code}")
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return response(Problem(exc.status_code, code, detail, headers=exc.headers))

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(part) for part in error.get("loc", ())), "message": error.get("msg", "")}
            for error in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "the request does not validate"
        return response(Problem(422, "invalid_request", detail, errors=errors))

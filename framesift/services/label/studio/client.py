"""The few Label Studio REST calls framesift makes, over httpx, with retries.

Not label-studio-sdk: the SDK requires numpy >= 2.2, and the project pins numpy < 2 for
nvidia-pytriton; the calls below are plain REST. Transport errors and 5xx answers
are retried with backoff (tenacity), then StudioUnavailableError; a 4xx is StudioRefusedError
with Label Studio's own words (it explains, e.g., a label config the project's annotations
no longer fit).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

_PAGE = 100  # Label Studio lists ~5 ms a task whatever the page size; smaller pages apply sooner


class StudioUnavailableError(RuntimeError):
    """Label Studio did not answer (or answered 5xx) after the retries: try again later."""


class StudioRefusedError(ValueError):
    """Label Studio refused the call (4xx); the message is its explanation."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Retryable(Exception):
    pass


class StudioClient:
    def __init__(
        self, url: str, token: str, *, timeout_s: float = 10.0, attempts: int = 4, max_wait_s: float = 8.0
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=url.rstrip("/"), headers={"Authorization": f"Token {token}"}, timeout=timeout_s
        )
        self._attempts, self._max_wait_s = attempts, max_wait_s
        self._health, self._health_at = False, -1e9

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_Retryable),
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=0.25, max=self._max_wait_s),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    try:
                        response = await self._http.request(method, path, **kwargs)
                    except httpx.TransportError as exc:
                        raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
                    if response.status_code >= 500:
                        raise _Retryable(f"{method} {path} answered {response.status_code}")
        except _Retryable as exc:
            raise StudioUnavailableError(f"Label Studio is unavailable: {exc}") from None
        if response.status_code >= 400:
            raise StudioRefusedError(response.status_code, f"Label Studio refused {method} {path}: {_why(response)}")
        return response

    async def healthy(self) -> bool:
        """Whether Label Studio answers /health; asked at most every 5 s (readiness probes and
        the health watcher ask far more often)."""
        now = time.monotonic()
        if now - self._health_at < 5.0:
            return self._health
        try:
            response = await self._http.get("/health", timeout=2.0)
            self._health = response.status_code == 200
        except httpx.HTTPError:
            self._health = False
        self._health_at = now
        return self._health

    # -- projects and webhooks ---------------------------------------------------------------

    async def find_project(self, title: str) -> dict[str, Any] | None:
        page = 1
        while True:
            body = (await self._call("GET", "/api/projects/", params={"page": page, "page_size": 100})).json()
            found = next((p for p in body.get("results", ()) if p.get("title") == title), None)
            if found is not None or not body.get("next"):
                return found
            page += 1

    async def _found(self, path: str) -> dict[str, Any] | None:
        """GET `path`; None when Label Studio has no such thing (404)."""
        try:
            return (await self._call("GET", path)).json()
        except StudioRefusedError as exc:
            if exc.status == 404:
                return None
            raise

    async def project(self, project_id: int) -> dict[str, Any] | None:
        return await self._found(f"/api/projects/{project_id}/")

    async def create_project(self, title: str, label_config: str) -> int:
        body = {"title": title, "label_config": label_config, "show_skip_button": True}
        return int((await self._call("POST", "/api/projects/", json=body)).json()["id"])

    async def set_label_config(self, project_id: int, label_config: str) -> None:
        await self._call("PATCH", f"/api/projects/{project_id}/", json={"label_config": label_config})

    async def webhooks(self, project_id: int) -> list[dict[str, Any]]:
        return (await self._call("GET", "/api/webhooks/", params={"project": project_id})).json()

    async def put_webhook(
        self, project_id: int, url: str, headers: dict[str, str], actions: Sequence[str], webhook_id: int | None
    ) -> int:
        body = {
            "project": project_id,
            "url": url,
            "send_payload": True,
            "send_for_all_actions": False,
            "headers": headers,
            "actions": list(actions),
            "is_active": True,
        }
        if webhook_id is None:
            return int((await self._call("POST", "/api/webhooks/", json=body)).json()["id"])
        await self._call("PATCH", f"/api/webhooks/{webhook_id}/", json=body)
        return webhook_id

    # -- tasks -------------------------------------------------------------------------------

    async def import_tasks(self, project_id: int, tasks: Sequence[dict[str, Any]]) -> list[int]:
        """Label Studio's ids of the imported tasks, in the order given."""
        response = await self._call(
            "POST", f"/api/projects/{project_id}/import", params={"return_task_ids": "true"}, json=list(tasks)
        )
        ids = [int(i) for i in response.json().get("task_ids", ())]
        if len(ids) != len(tasks):
            raise StudioRefusedError(200, f"imported {len(tasks)} tasks, Label Studio reported {len(ids)} ids")
        return ids

    async def task(self, task_id: int) -> dict[str, Any] | None:
        return await self._found(f"/api/tasks/{task_id}/")

    async def patch_task(self, task_id: int, *, data: dict[str, Any], meta: dict[str, Any] | None = None) -> None:
        body: dict[str, Any] = {"data": data}
        if meta is not None:
            body["meta"] = meta
        await self._call("PATCH", f"/api/tasks/{task_id}/", json=body)

    async def tasks(
        self, project_id: int, *, updated_after: str | None = None, full: bool = True
    ) -> AsyncIterator[dict[str, Any]]:
        async for page in self.pages(project_id, updated_after=updated_after, full=full):
            for task in page:
                yield task

    async def pages(
        self, project_id: int, *, updated_after: str | None = None, full: bool = True
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The project's tasks (with their annotations when `full`), oldest change first; only
        those changed after `updated_after` (ISO 8601) when given. Keyset pages (changed after
        the last one read), so a task edited meanwhile moves to the end instead of shifting a
        page's boundary over another task."""
        cursor = updated_after
        while True:
            query: dict[str, Any] = {"ordering": ["tasks:updated_at"]}
            if cursor:
                value = studio_time(cursor)
                item = {"filter": "filter:tasks:updated_at", "operator": "greater", "type": "Datetime", "value": value}
                query["filters"] = {"conjunction": "and", "items": [item]}
            params = {
                "project": project_id,
                "page": 1,
                "page_size": _PAGE,
                "fields": "all" if full else "task_only",
                "query": json.dumps(query),
            }
            batch = list((await self._call("GET", "/api/tasks/", params=params)).json().get("tasks", ()))
            if batch:
                yield batch
            if len(batch) < _PAGE:
                return
            cursor = batch[-1]["updated_at"]


def studio_moment(text: str) -> datetime:
    """One of Label Studio's ISO 8601 times (`...Z`) as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def studio_time(moment: str | datetime) -> str:
    """A time as Label Studio's Datetime filter parses it (microseconds and Z always: it answers
    500 to `...:00Z` or `+00:00`), from its own ISO 8601 answers or a datetime."""
    if isinstance(moment, str):
        moment = studio_moment(moment)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _why(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        detail = body.get("validation_errors") or body.get("detail") or body
        return f"HTTP {response.status_code}: {json.dumps(detail)[:500]}"
    return f"HTTP {response.status_code}"

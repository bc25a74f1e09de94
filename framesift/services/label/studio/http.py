"""What Label Studio calls on framesift: its webhooks, and the signed image URLs of its tasks.

Label Studio does not sign webhooks; it sends back the header framesift registered with the
webhook (signing.WEBHOOK_HEADER), checked in constant time. A body that does not parse is
answered 400 and kept in label_studio_inbox; one naming a task framesift does not know, 404
(kept too). Label Studio sends a webhook once: when applying fails because Label Studio does
not answer, the next reconciliation applies it, so the answer is 202.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from framesift.contracts.media import sniff
from framesift.platform.problems import Problem
from framesift.store.base import ObjectNotFoundError, ObjectStore

from ..desk import TASKS
from ..tables import StudioInbox
from . import signing
from .client import StudioRefusedError, StudioUnavailableError
from .sync import StudioSync, UnknownStudioTaskError

log = logging.getLogger(__name__)
INBOX = StudioInbox.__table__
MAX_BODY = 1 << 20  # a webhook names a few tasks; Label Studio's payloads are far smaller
_KEPT = 64 * 1024  # what is kept of a refused body


class MalformedWebhookError(ValueError):
    pass


def mentioned(body: Any) -> tuple[list[int], list[int]]:
    """The Label Studio task ids a webhook names, and annotation ids it names without their task
    (ANNOTATIONS_DELETED carries only ids)."""
    if not isinstance(body, dict) or not isinstance(body.get("action"), str):
        raise MalformedWebhookError("expected a JSON object with an action")
    tasks: list[int] = []
    annotations: list[int] = []
    try:
        if isinstance(body.get("task"), dict):
            tasks.append(int(body["task"]["id"]))
        items = [body["annotation"]] if isinstance(body.get("annotation"), dict) else []
        items += list(body.get("annotations") or ())
        for item in items:
            if not isinstance(item, dict):
                raise MalformedWebhookError("annotations must be objects")
            if item.get("task") is not None:
                tasks.append(int(item["task"]["id"] if isinstance(item["task"], dict) else item["task"]))
            else:
                annotations.append(int(item["id"]))
    except (KeyError, TypeError, ValueError):
        raise MalformedWebhookError("a task or annotation id is missing or not a number") from None
    return tasks, annotations


def studio_router(
    sync: StudioSync, store: ObjectStore, engine: Engine, secret: str, clock: Callable[[], float] = time.time
) -> APIRouter:
    router = APIRouter(prefix="/v1/labels/label-studio", tags=["labels"])

    async def keep(status: int, reason: str, raw: bytes) -> None:
        def insert() -> None:
            with engine.begin() as connection:
                connection.execute(
                    INBOX.insert().values(
                        received_at=clock(),
                        status=status,
                        reason=reason[:1000],
                        body=raw[:_KEPT].decode("utf-8", "replace"),
                    )
                )

        await asyncio.to_thread(insert)

    @router.post("/webhook")
    async def webhook(request: Request, x_framesift_webhook: str | None = Header(default=None)):
        """Label Studio's ANNOTATION_CREATED / UPDATED / ANNOTATIONS_DELETED: the tasks named are
        read from Label Studio and applied (idempotently)."""
        if not signing.webhook_ok(secret, x_framesift_webhook):
            raise Problem(401, "unauthenticated", f"a webhook needs the {signing.WEBHOOK_HEADER} header framesift set")
        raw = await request.body()
        if len(raw) > MAX_BODY:
            await keep(413, "body over 1 MiB", raw)
            raise Problem(413, "too_large", "a webhook body is at most 1 MiB")
        try:
            tasks, annotations = mentioned(json.loads(raw))
        except (ValueError, MalformedWebhookError) as exc:  # JSONDecodeError is a ValueError
            reason = str(exc) if isinstance(exc, MalformedWebhookError) else "the body is not JSON"
            await keep(400, reason, raw)
            log.warning("Label Studio webhook refused (kept in label_studio_inbox): %s", reason)
            raise Problem(400, "bad_request", reason) from None
        try:
            if annotations:
                tasks += await sync.tasks_of_annotations(annotations)
            applied = await sync.apply_ids(tasks)
        except UnknownStudioTaskError as exc:
            await keep(404, str(exc), raw)
            log.warning("Label Studio webhook for an unknown task: %s", exc)
            raise Problem(404, "not_found", str(exc)) from None
        except (StudioUnavailableError, StudioRefusedError) as exc:
            log.warning("Label Studio webhook not applied now, reconciliation will: %s", exc)
            return JSONResponse({"accepted": True, "detail": "reconciliation will apply it"}, status_code=202)
        return {"applied": dict(applied)}

    @router.get("/images/{task_id}")
    async def image(task_id: str, expires: int, signature: str, request: Request):
        """A task's image for Label Studio's pages: the URL is signed by framesift and expires."""
        if not signing.image_ok(secret, task_id, expires, signature, clock()):
            raise Problem(403, "forbidden", "the image URL is not framesift's, or it expired")

        def key() -> str | None:
            with engine.connect() as connection:
                return connection.execute(sa.select(TASKS.c.object_key).where(TASKS.c.task_id == task_id)).scalar()

        object_key = await asyncio.to_thread(key)
        if not object_key:
            raise Problem(404, "not_found", f"no task {task_id!r}")
        try:
            data = await store.get(object_key)
        except ObjectNotFoundError:
            raise Problem(404, "not_found", f"the image of task {task_id!r} is not in the store") from None
        media = sniff(data)
        etag = f'"{signing.image_signature(secret, task_id, 0)[:32]}"'  # per task: its bytes never change
        headers = {"Cache-Control": "private, max-age=86400, immutable", "ETag": etag}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(data, media_type=media.mime if media else "application/octet-stream", headers=headers)

    return router

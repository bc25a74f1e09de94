"""Bulk upload for the CLI: to a running ingest service over HTTP, or straight into this process.

Resumable: every item that reached a final answer is appended to a progress file; a rerun with
the same source, camera and target skips those. Uploads are idempotent anyway, so a crash
between the upload and the progress line costs one repeat, not a duplicate frame.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

from framesift.runtime.retry import of_type, with_retries

from .errors import client_error
from .handlers import IngestDeps, UploadFrame, ingest_frame
from .sources import SourceItem


@dataclass(frozen=True)
class Outcome:
    # "created", "repeat" or "refused"
    kind: str
    error: str | None = None
    frame_id: str | None = None  # known when uploaded in this process


class Uploader(Protocol):
    async def upload(self, camera_id: str, item: SourceItem) -> Outcome: ...

    async def aclose(self) -> None: ...


class _ServerBusy(Exception):
    """Ingest answered 5xx or 429: worth another try after a pause."""


class HttpUploader:
    def __init__(self, base_url: str, api_key: str, *, attempts: int = 5, backoff_s: float = 0.5) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers={"Authorization": f"Bearer {api_key}"}, timeout=60
        )
        self._attempts = attempts
        self._backoff_s = backoff_s

    async def upload(self, camera_id: str, item: SourceItem) -> Outcome:
        return await with_retries(
            lambda: self._send(camera_id, item),
            what=f"upload {item.ref}",
            retry_on=of_type(httpx.TransportError, _ServerBusy),
            attempts=self._attempts,
            backoff_s=self._backoff_s,
            gave_up=lambda exc: ConnectionError(
                f"upload of {item.ref} failed after {self._attempts} attempts: "
                + (str(exc) if isinstance(exc, _ServerBusy) else f"{type(exc).__name__}: {exc}")
            ),
        )

    async def _send(self, camera_id: str, item: SourceItem) -> Outcome:
        params = {"captured_at": item.captured_at.isoformat()} if item.captured_at else None
        response = await self._client.post(
            f"/v1/cameras/{camera_id}/frames",
            content=item.data,
            params=params,
            headers={"Content-Type": "application/octet-stream"},
        )
        if response.status_code in (200, 201):
            return Outcome("created" if response.status_code == 201 else "repeat")
        if response.status_code in (401, 403):
            raise PermissionError(f"ingest refused the API key for camera {camera_id!r}: {response.text}")
        if response.status_code < 500 and response.status_code != 429:
            return Outcome("refused", _error_name(response))
        raise _ServerBusy(f"HTTP {response.status_code}: {response.text[:200]}")

    async def aclose(self) -> None:
        await self._client.aclose()


def _error_name(response: httpx.Response) -> str:
    """The problem's stable code (RFC 9457 body), or the status when the body is not one."""
    try:
        code = response.json().get("code")
    except (ValueError, AttributeError):
        code = None
    return code if isinstance(code, str) and code else f"http_{response.status_code}"


class InProcessUploader:
    """Calls the ingest use case directly (the embedded pipeline in this process)."""

    def __init__(self, deps: IngestDeps) -> None:
        self._deps = deps

    async def upload(self, camera_id: str, item: SourceItem) -> Outcome:
        try:
            accepted = await ingest_frame(UploadFrame(camera_id, item.data, item.captured_at), self._deps)
        except Exception as exc:
            error = client_error(exc)
            if error is None or error.http_status >= 500:
                raise
            return Outcome("refused", error.name)
        return Outcome("created" if accepted.created else "repeat", frame_id=accepted.frame_id)

    async def aclose(self) -> None:
        return None


class ProgressLog:
    """Refs already uploaded for one (source, camera, target); one JSON line each."""

    def __init__(self, directory: Path, source: Path, camera_id: str, target: str, fps: float) -> None:
        identity = json.dumps([str(source.resolve()), camera_id, target, fps])
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{hashlib.sha256(identity.encode()).hexdigest()[:20]}.jsonl"
        self.done: set[str] = set()
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                if line.strip():
                    self.done.add(json.loads(line)["ref"])
        self._handle = self.path.open("a")

    def mark(self, ref: str, outcome: Outcome) -> None:
        self._handle.write(json.dumps({"ref": ref, "outcome": outcome.kind, "error": outcome.error}) + "\n")
        self._handle.flush()
        self.done.add(ref)

    def close(self) -> None:
        self._handle.close()


@dataclass
class Summary:
    counts: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    bytes_sent: int = 0
    seconds: float = 0.0
    # Verdicts of the embedded pipeline ('kept', 'rejected', one count per reason); empty with --url.
    verdicts: Counter[str] = field(default_factory=Counter)
    # Frames this run uploaded (in-process runs): the verdicts count these, not frames of earlier
    # runs that the end-of-run flush decided too ('selected_earlier').
    frame_ids: set[str] = field(default_factory=set)

    @property
    def uploaded(self) -> int:
        return self.counts["created"] + self.counts["repeat"]

    def lines(self) -> list[str]:
        rate = self.uploaded / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"created   {self.counts['created']}",
            f"repeats   {self.counts['repeat']}  (same bytes already ingested; no new frame)",
            f"skipped   {self.counts['skipped']}  (done in an earlier run)",
            f"refused   {self.counts['refused']}",
        ]
        lines += [f"  {reason:<18}{count}" for reason, count in sorted(self.refused.items())]
        lines.append(
            f"{self.uploaded} frames, {self.bytes_sent / 1e6:.1f} MB in {self.seconds:.1f} s ({rate:.1f} frames/s)"
        )
        if self.verdicts:
            lines.append(f"quality   kept {self.verdicts['kept']}, rejected {self.verdicts['rejected']}")
            reasons = {k: v for k, v in self.verdicts.items() if k not in ("kept", "rejected", "embedded", "selected")}
            lines += [f"  {reason:<18}{count}" for reason, count in sorted(reasons.items())]
            lines.append(f"embedded  {self.verdicts['embedded']}")
            lines.append(f"selected  {self.verdicts['selected']}  (for labelling; framesift query 'status:selected')")
            if self.verdicts["selected_earlier"]:
                lines.append(f"  and {self.verdicts['selected_earlier']} frames of earlier runs, decided now too")
        return lines

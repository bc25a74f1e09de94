"""framesift's secret, used two ways (each under its own derived key): the token Label Studio
sends back with every webhook, and signatures on the image URLs Label Studio is given."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

WEBHOOK_HEADER = "X-Framesift-Webhook"


def _key(secret: str, use: str) -> bytes:
    return hmac.new(secret.encode(), use.encode(), hashlib.sha256).digest()


def webhook_token(secret: str) -> str:
    return hmac.new(_key(secret, "webhook"), b"label-studio", hashlib.sha256).hexdigest()


def webhook_ok(secret: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(webhook_token(secret), presented)


def image_signature(secret: str, task_id: str, expires: int) -> str:
    return hmac.new(_key(secret, "image"), f"{task_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def image_url(base: str, secret: str, task_id: str, expires: int) -> str:
    query = urlencode({"expires": expires, "signature": image_signature(secret, task_id, expires)})
    return f"{base.rstrip('/')}/v1/labels/label-studio/images/{task_id}?{query}"


def image_ok(secret: str, task_id: str, expires: int, signature: str, now: float) -> bool:
    return now < expires and hmac.compare_digest(image_signature(secret, task_id, expires), signature)

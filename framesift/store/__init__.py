"""Object storage for frame bytes: a local folder (embedded default) or S3/MinIO."""

from framesift.store.base import ObjectNotFoundError, ObjectStore, StoreUnavailableError

__all__ = ["ObjectNotFoundError", "ObjectStore", "StoreUnavailableError"]

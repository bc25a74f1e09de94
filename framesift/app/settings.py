"""The one Settings object a process runs with: the platform's settings plus each service's section.

Service sections are read as FRAMESIFT_<SERVICE>__<FIELD> (FRAMESIFT_INGEST__MAX_UPLOAD_BYTES). The
flat names of the release before (FRAMESIFT_MAX_UPLOAD_BYTES, ...) still work for one release, with
a FutureWarning naming the new one; where both are set, the new name wins.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from framesift.runtime.settings import BusKind, PlatformSettings
from framesift.services.curate.settings import CurateSettings
from framesift.services.embed.settings import EmbedSettings
from framesift.services.evaluate.settings import EvaluateSettings
from framesift.services.ingest.settings import IngestSettings
from framesift.services.label.settings import LabelSettings
from framesift.services.quality.settings import QualitySettings

# Flat names of the release before -> (section, field). Removed in the release after this one.
DEPRECATED_NAMES: dict[str, tuple[str, str]] = {
    "FRAMESIFT_MAX_UPLOAD_BYTES": ("ingest", "max_upload_bytes"),
    "FRAMESIFT_DEDUP_WINDOW_S": ("ingest", "dedup_window_s"),
    "FRAMESIFT_MAX_CLOCK_AHEAD_S": ("ingest", "max_clock_ahead_s"),
    "FRAMESIFT_DEDUP_SCOPE": ("quality", "dedup_scope"),
    "FRAMESIFT_DEDUP_INDEX_MAX_HASHES": ("quality", "dedup_index_max_hashes"),
    "FRAMESIFT_QUALITY_WORKERS": ("quality", "workers"),
    "FRAMESIFT_EMBED_WORKERS": ("embed", "workers"),
    "FRAMESIFT_EMBED_CONCURRENCY": ("embed", "concurrency"),
    "FRAMESIFT_EMBED_MAX_BATCH": ("embed", "max_batch"),
    "FRAMESIFT_EMBED_MAX_WAIT_S": ("embed", "max_wait_s"),
}


def new_name(section: str, field: str) -> str:
    return f"FRAMESIFT_{section.upper()}__{field.upper()}"


class DeprecatedNames(PydanticBaseSettingsSource):
    """The flat names, read below the environment's new names (which therefore win)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, dict[str, str]] = {}
        for old, (section, field) in DEPRECATED_NAMES.items():
            if old in os.environ:
                warnings.warn(f"{old} is deprecated; use {new_name(section, field)}", FutureWarning, stacklevel=2)
                found.setdefault(section, {})[field] = os.environ[old]
        return found


# `framesift up` on the embedded default decides a live frame within minutes, not the hour the
# production windows take: 5-minute windows, 30 s for late frames, a quiet camera's window closed
# a minute after its last frame. Set any FRAMESIFT_CURATE__ window setting to choose your own.
LIVE_WINDOWS = {"window_s": 300.0, "lateness_s": 30.0, "idle_close_s": 60.0}


class Settings(PlatformSettings):
    ingest: IngestSettings = IngestSettings()
    quality: QualitySettings = QualitySettings()
    embed: EmbedSettings = EmbedSettings()
    curate: CurateSettings = CurateSettings()
    label: LabelSettings = LabelSettings()
    evaluate: EvaluateSettings = EvaluateSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, DeprecatedNames(settings_cls), dotenv_settings, file_secret_settings

    def with_live_windows(self) -> Settings:
        """The embedded default's window settings for live frames, unless any was set explicitly."""
        if self.bus is BusKind.KAFKA or self.curate.model_fields_set & set(LIVE_WINDOWS):
            return self
        return self.model_copy(update={"curate": self.curate.model_copy(update=LIVE_WINDOWS)})


def load_settings() -> Settings:
    """The settings from the environment; a bad FRAMESIFT_* value is a clear error at boot."""
    import click

    try:
        return Settings()
    except Exception as exc:  # say which value, not a traceback
        raise click.ClickException(f"invalid settings: {exc}") from exc

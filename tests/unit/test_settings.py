from pathlib import Path

import pytest

from framesift.app.settings import Settings
from framesift.runtime.settings import BusKind


def test_defaults_are_the_embedded_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FRAMESIFT_BUS", "FRAMESIFT_DATA_DIR", "KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.bus is BusKind.INPROCESS
    assert settings.http_port == 8080
    assert settings.grpc_port == 50051
    assert settings.data_dir == Path(".framesift")
    assert settings.sql_url == "sqlite:///.framesift/framesift.db"
    assert settings.ingest.max_upload_bytes == 20 * 1024 * 1024


def test_environment_overrides_and_kafka_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMESIFT_BUS", "kafka")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker:29092")
    monkeypatch.setenv("FRAMESIFT_S3_SECRET_KEY", "s3cr3t")
    settings = Settings()
    assert settings.bus is BusKind.KAFKA
    assert settings.kafka_bootstrap_servers == "broker:29092"
    assert "s3cr3t" not in repr(settings)  # secrets never show up in logs


def test_bad_values_fail_at_boot_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMESIFT_INGEST__MAX_UPLOAD_BYTES", "-1")
    with pytest.raises(ValueError, match="max_upload_bytes"):
        Settings()


def test_each_service_reads_its_own_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMESIFT_INGEST__DEDUP_WINDOW_S", "60")
    monkeypatch.setenv("FRAMESIFT_QUALITY__WORKERS", "3")
    monkeypatch.setenv("FRAMESIFT_EMBED__MAX_BATCH", "16")
    monkeypatch.setenv("FRAMESIFT_CURATE__BUDGET_PER_WINDOW", "7")
    settings = Settings()
    assert settings.ingest.dedup_window_s == 60
    assert settings.quality.workers == 3
    assert settings.embed.max_batch == 16
    assert settings.curate.budget_per_window == 7


def test_the_flat_names_of_the_last_release_still_work_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMESIFT_MAX_UPLOAD_BYTES", "1000")
    monkeypatch.setenv("FRAMESIFT_EMBED_CONCURRENCY", "2")
    with pytest.warns(
        FutureWarning, match="FRAMESIFT_MAX_UPLOAD_BYTES is deprecated; use FRAMESIFT_INGEST__MAX_UPLOAD_BYTES"
    ):
        settings = Settings()
    assert settings.ingest.max_upload_bytes == 1000
    assert settings.embed.concurrency == 2


def test_the_new_name_wins_over_the_deprecated_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMESIFT_DEDUP_SCOPE", "global")
    monkeypatch.setenv("FRAMESIFT_QUALITY__DEDUP_SCOPE", "camera")
    with pytest.warns(FutureWarning, match="FRAMESIFT_DEDUP_SCOPE"):
        assert Settings().quality.dedup_scope == "camera"


def test_up_decides_live_frames_within_minutes_unless_windows_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FRAMESIFT_BUS", "FRAMESIFT_CURATE__WINDOW_S", "FRAMESIFT_CURATE__LATENESS_S"):
        monkeypatch.delenv(name, raising=False)
    live = Settings().with_live_windows().curate
    assert (live.window_s, live.lateness_s, live.idle_close_s) == (300.0, 30.0, 60.0)
    assert Settings().curate.window_s == 3600.0  # `run` (production) keeps its windows
    monkeypatch.setenv("FRAMESIFT_CURATE__WINDOW_S", "1800")
    chosen = Settings().with_live_windows().curate
    assert (chosen.window_s, chosen.lateness_s) == (1800.0, 300.0)  # one set explicitly: all as configured
    monkeypatch.setenv("FRAMESIFT_BUS", "kafka")
    monkeypatch.delenv("FRAMESIFT_CURATE__WINDOW_S")
    assert Settings().with_live_windows().curate.window_s == 3600.0

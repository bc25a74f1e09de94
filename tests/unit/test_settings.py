from pathlib import Path

import pytest

from framesift.settings import BusKind, Settings


def test_defaults_are_the_embedded_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FRAMESIFT_BUS", "FRAMESIFT_DATA_DIR", "KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.bus is BusKind.INPROCESS
    assert settings.http_port == 8080
    assert settings.grpc_port == 50051
    assert settings.data_dir == Path(".framesift")
    assert settings.sql_url == "sqlite:///.framesift/framesift.db"
    assert settings.max_upload_bytes == 20 * 1024 * 1024


def test_environment_overrides_and_kafka_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMESIFT_BUS", "kafka")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker:29092")
    monkeypatch.setenv("FRAMESIFT_S3_SECRET_KEY", "s3cr3t")
    settings = Settings()
    assert settings.bus is BusKind.KAFKA
    assert settings.kafka_bootstrap_servers == "broker:29092"
    assert "s3cr3t" not in repr(settings)  # secrets never show up in logs


def test_bad_values_fail_at_boot_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAMESIFT_MAX_UPLOAD_BYTES", "-1")
    with pytest.raises(ValueError, match="max_upload_bytes"):
        Settings()

"""No Docker engine or cluster runs here, so the stack definitions are checked as data:
they parse, every command is a real CLI verb, every FRAMESIFT_* variable is a real setting,
names agree, and no secret is written in them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from framesift.app.cli import main
from framesift.app.registry import SERVICES
from framesift.app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SECTIONS = ("ingest", "quality", "embed", "curate", "label")
SETTING_ENV_NAMES = {f"FRAMESIFT_{name.upper()}" for name in Settings.model_fields if name not in SECTIONS} | {
    f"FRAMESIFT_{section.upper()}__{name.upper()}"
    for section in SECTIONS
    for name in type(getattr(Settings(), section)).model_fields
}


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def assert_cli_verb(args: list[str]) -> None:
    """`args` (after the `framesift` entrypoint) names a real command and, for run, a real service."""
    command = main
    rest = list(args)
    while rest and hasattr(command, "commands") and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    assert command is not main, f"{args} is not a framesift command"
    assert not hasattr(command, "commands"), f"{args} stops at a command group"
    if command.name == "run":
        assert rest, f"{args}: run needs a service"
        assert rest[0] in SERVICES, f"{args}: unknown service"


def framesift_services() -> dict[str, dict]:
    return {name: spec for name, spec in compose()["services"].items() if spec.get("image", "").startswith("framesift")}


def test_compose_has_the_distributed_stack_with_healthchecks() -> None:
    services = compose()["services"]
    for required in ("kafka", "minio", "postgres", "qdrant", "triton", "ingest"):
        assert required in services
        assert "healthcheck" in services[required], required
    assert "KAFKA_PROCESS_ROLES" in services["kafka"]["environment"]  # KRaft, no ZooKeeper
    assert "zookeeper" not in services


def test_compose_framesift_services_use_real_verbs_and_settings() -> None:
    services = framesift_services()
    assert set(services) <= set(SERVICES)
    assert "ingest" in services
    for name, spec in services.items():
        assert_cli_verb(spec["command"])
        assert spec["command"] == ["run", name], "one name per service everywhere"
        for variable in spec["environment"]:
            if variable.startswith("FRAMESIFT_"):
                assert variable in SETTING_ENV_NAMES, f"{name}: {variable} is not a setting"
        for dependency, condition in spec["depends_on"].items():
            assert condition == {"condition": "service_healthy"}, dependency


def test_compose_writes_no_secrets() -> None:
    secret = re.compile(r"PASSWORD|SECRET|ACCESS_KEY")
    for name, spec in compose()["services"].items():
        for variable, value in (spec.get("environment") or {}).items():
            if secret.search(variable):
                assert str(value).startswith("${"), f"{name}: {variable} is written in the file"
    url = compose()["services"]["ingest"]["environment"]["FRAMESIFT_DATABASE_URL"]
    assert "${POSTGRES_PASSWORD" in url


def k8s_documents() -> list[tuple[Path, dict]]:
    return [
        (path, document)
        for path in sorted(K8S.rglob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]


def test_kustomizations_reference_existing_files() -> None:
    for path, document in k8s_documents():
        if document.get("kind") in ("Kustomization", "Component"):
            for entry in document.get("resources", []) + document.get("components", []):
                assert (path.parent / entry).exists(), f"{path}: {entry} missing"


@pytest.mark.parametrize("service", sorted(set(SERVICES)))
def test_each_service_deployment_is_named_once_everywhere(service: str) -> None:
    docs = [doc for _, doc in k8s_documents() if doc.get("metadata", {}).get("name") == service]
    kinds = {doc["kind"] for doc in docs}
    assert {"Deployment", "Service"} <= kinds
    deployment = next(doc for doc in docs if doc["kind"] == "Deployment")
    assert deployment["metadata"]["labels"]["app"] == service
    assert deployment["spec"]["selector"]["matchLabels"]["app"] == service
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["name"] == service
    assert_cli_verb(container["args"])
    assert container["args"] == ["run", service]
    assert container["readinessProbe"]["grpc"]["port"] == 50051


def test_configmap_holds_only_known_non_secret_settings() -> None:
    [config] = [doc for _, doc in k8s_documents() if doc.get("kind") == "ConfigMap"]
    for variable in config["data"]:
        assert variable in SETTING_ENV_NAMES, variable
        assert "SECRET" not in variable
        assert "PASSWORD" not in variable

"""`framesift label ...` as a person uses it (click's runner, real SQLite and files)."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from framesift.app.cli import main


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMESIFT_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def test_the_ontology_from_a_file_in_versions(cli, tmp_path) -> None:
    path = tmp_path / "ontology.yaml"
    path.write_text(yaml.safe_dump({"classes": [{"name": "car", "attributes": ["occluded"]}, {"name": "person"}]}))
    assert cli("label", "ontology", "show").exit_code != 0  # none yet, said so
    first = cli("label", "ontology", "set", str(path))
    assert first.exit_code == 0
    assert "made version 1 (2 active classes)" in first.output
    assert "unchanged: still version 1" in cli("label", "ontology", "set", str(path)).output
    path.write_text(
        yaml.safe_dump(
            {"classes": [{"id": 1, "name": "vehicle"}, {"id": 2, "name": "person", "retired": True}, {"name": "bus"}]}
        )
    )
    assert "made version 2 (2 active classes)" in cli("label", "ontology", "set", str(path)).output
    shown = json.loads(cli("label", "ontology", "show", "--json").output)
    assert [(c["id"], c["name"], c["retired"]) for c in shown["classes"]] == [
        (1, "vehicle", False),
        (2, "person", True),
        (3, "bus", False),
    ]
    older = json.loads(cli("label", "ontology", "show", "--version", "1", "--json").output)
    assert [c["name"] for c in older["classes"]] == ["car", "person"]
    table = cli("label", "ontology", "show").output
    assert "vehicle" in table
    assert "retired" in table
    path.write_text(yaml.safe_dump({"classes": [{"id": 1, "name": "vehicle"}]}))
    refused = cli("label", "ontology", "set", str(path))
    assert refused.exit_code != 0
    assert "are missing" in refused.output


def test_labellers_get_a_key_once_and_the_queue_and_stats_answer_when_empty(cli, tmp_path) -> None:
    made = cli("label", "labellers", "add", "ann", "--reviewer")
    assert made.exit_code == 0
    key = made.output.split()[-1]
    assert key.startswith("fsl_")
    assert key.encode() not in (tmp_path / "data" / "framesift.db").read_bytes()
    assert "already exists" in cli("label", "labellers", "add", "ann").output
    assert "invalid labeller id" in cli("label", "labellers", "add", "../x").output
    listed = cli("label", "labellers", "list").output
    assert "ann" in listed
    assert "reviewer" in listed
    assert "labeller ann disabled" in cli("label", "labellers", "disable", "ann").output
    assert "disabled" in cli("label", "labellers", "list").output
    assert "no labeller 'bob'" in cli("label", "labellers", "disable", "bob").output
    assert "queued 0" in cli("label", "queue").output
    figures = json.loads(cli("label", "stats", "--json").output)
    assert figures["tasks"] == {}
    assert figures["error_rate"]["overall"] is None
    assert "median seconds per task" in cli("label", "stats").output

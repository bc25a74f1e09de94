"""The layout's import rules are checked by import-linter (pyproject's [tool.importlinter]); here a
copy of the package with one forbidden import added must fail it, naming the broken contract."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    # From `tree` as the working directory, import-linter analyses the copy there, not the install.
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "framesift", tmp_path / "framesift", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_as_it_is_keeps_every_contract(tree: Path) -> None:
    result = lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        (
            "services/quality/leak.py",
            "from framesift.services.curate import handlers",
            "Services meet only on topics: no service imports another BROKEN",
        ),
        (
            "bus/leak.py",
            "from framesift.services.ingest import handlers",
            "The shared library imports no service and no app code BROKEN",
        ),
        (
            "services/embed/leak.py",
            "from framesift.app import registry",
            "Nothing imports the app (the composition root) BROKEN",
        ),
        ("contracts/leak.py", "from framesift.bus import events", "The library's own layers BROKEN"),
        (
            "services/curate/handlers.py",
            "from framesift.services.curate import bootstrap",
            "Inside a service: wiring, then transports, then use cases BROKEN",
        ),
    ],
)
def test_a_forbidden_import_fails_the_check(tree: Path, module: str, line: str, contract: str) -> None:
    path = tree / "framesift" / module
    path.write_text((path.read_text() if path.exists() else "") + f"\n{line}  # noqa\n")
    result = lint(tree)
    assert result.returncode != 0
    assert contract in result.stdout, result.stdout

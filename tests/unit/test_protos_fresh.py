"""The generated code in framesift/v1 must match what protos/ generates now."""

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_code_is_current(tmp_path: Path) -> None:
    generate = runpy.run_path(str(ROOT / "protos" / "genproto.py"))["generate"]
    fresh = {p.name: p.read_bytes() for p in generate(tmp_path)}
    installed_dir = ROOT / "framesift" / "v1"
    installed = {p.name: p.read_bytes() for p in installed_dir.iterdir() if p.is_file()}
    stale = sorted(name for name in fresh if installed.get(name) != fresh[name])
    assert not stale, f"stale generated code {stale}: run `pip install -e .` (or python protos/genproto.py)"
    extra = sorted(set(installed) - set(fresh))
    assert not extra, f"generated files without a proto: {extra}"


def test_every_proto_is_generated(tmp_path: Path) -> None:
    protos = sorted(p.stem for p in (ROOT / "protos" / "framesift" / "v1").glob("*.proto"))
    generate = runpy.run_path(str(ROOT / "protos" / "genproto.py"))["generate"]
    modules = {p.name for p in generate(tmp_path)}
    assert all(f"{name}_pb2.py" in modules for name in protos)

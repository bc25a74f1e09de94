"""Build hook: generate the protobuf/gRPC code, and map services/<name> to framesift.services.<name>.

Everything else about the package is declared in pyproject.toml.
"""

import runpy
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent

runpy.run_path(str(ROOT / "protos" / "genproto.py"))["generate"](ROOT)


def packages_under(directory: str, prefix: str) -> list[str]:
    base = ROOT / directory
    return [
        ".".join([prefix, *init.parent.relative_to(base).parts]).rstrip(".")
        for init in sorted(base.rglob("__init__.py"))
    ]


setup(
    packages=packages_under("framesift", "framesift") + packages_under("services", "framesift.services"),
    package_dir={"framesift": "framesift", "framesift.services": "services"},
)

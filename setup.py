"""Build hook: generate the protobuf/gRPC code (framesift/v1) from protos/ before packaging.

Everything else about the package is declared in pyproject.toml.
"""

import runpy
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).resolve().parent

runpy.run_path(str(ROOT / "protos" / "genproto.py"))["generate"](ROOT)

setup(packages=find_packages(include=["framesift", "framesift.*"]))

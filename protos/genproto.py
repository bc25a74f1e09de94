"""Generate Python and gRPC code from protos/ into <out>/framesift/v1/.

Run by the package build (setup.py) and by the freshness test; never commit its output.
Usage: python protos/genproto.py [OUT_ROOT]   (default: the repository root)
"""

from __future__ import annotations

import sys
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parent
REPO_ROOT = PROTO_ROOT.parent
GENERATED_PACKAGE = ("framesift", "v1")


def proto_files() -> list[Path]:
    return sorted(PROTO_ROOT.joinpath(*GENERATED_PACKAGE).glob("*.proto"))


def generate(out_root: Path = REPO_ROOT) -> list[Path]:
    """Write *_pb2.py, *_pb2.pyi and *_pb2_grpc.py for every proto; return the files written."""
    import grpc_tools
    from grpc_tools import protoc

    out_root.mkdir(parents=True, exist_ok=True)
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *(str(p.relative_to(PROTO_ROOT)) for p in proto_files()),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed: {' '.join(args)}")
    package_dir = out_root.joinpath(*GENERATED_PACKAGE)
    (package_dir / "__init__.py").write_text('"""Generated from protos/framesift/v1 by protos/genproto.py."""\n')
    return sorted(p for p in package_dir.iterdir() if p.is_file())


if __name__ == "__main__":
    for written in generate(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO_ROOT):
        print(written)

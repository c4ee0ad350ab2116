"""``auroral engine``: build a bundle's TensorRT engines on the station itself.

An engine is specific to the GPU model and TensorRT version it is built on, so it is built where it
runs, and this command needs only an edge install with TensorRT and cuda-python (``auroral[tensorrt]``),
no torch. ``auroral export --tensorrt`` builds engines through the same :func:`build_engines`.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from auroral.edge.bundle import PRECISIONS
from auroral.edge.cli import positive_int

DEFAULT_MAX_BATCH = 16


def precision_list(text: str) -> list[str]:
    """``--precision fp32,int8``: a comma list of bundle precisions (argparse type)."""
    wanted = [p.strip() for p in text.split(",") if p.strip()]
    bad = [p for p in wanted if p not in PRECISIONS]
    if bad or not wanted:
        raise argparse.ArgumentTypeError(f"precisions are a comma list of {', '.join(PRECISIONS)} (got {text!r})")
    return wanted


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "engine", help="build a bundle's TensorRT engines for this GPU (for the tensorrt backend)",
        description="Build TensorRT engines for the variants of a model bundle on this GPU and TensorRT version "
                    "and cache them in BUNDLE_DIR/tensorrt/, where `auroral run --backend tensorrt` finds them. "
                    "An engine already built for this GPU, TensorRT version and ONNX file is reused. Needs "
                    "TensorRT (JetPack, or NVIDIA's wheels) and cuda-python: pip install 'auroral[tensorrt]'.")
    parser.add_argument("bundle", type=Path, metavar="BUNDLE_DIR", help="model bundle directory")
    parser.add_argument("--precision", type=precision_list, metavar="LIST",
                        help=f"comma list of {','.join(PRECISIONS)} (unset: every variant in the bundle)")
    parser.add_argument("--max-batch", type=positive_int, default=DEFAULT_MAX_BATCH, metavar="N",
                        help="largest batch of the TensorRT optimisation profile")
    parser.set_defaults(func=run)


def build_engines(root: Path, precisions: list[str] | None, largest_batch: int) -> None:
    """Build (or reuse) the engine of each precision, printing one line per engine."""
    from auroral.edge.backends.engine import build_engine
    from auroral.edge.bundle import load_bundle

    bundle = load_bundle(root)
    for precision in precisions or list(bundle.manifest.variants):
        print(f"tensorrt {precision}: {build_engine(bundle, precision, largest_batch)}")


def run(args: argparse.Namespace) -> int:
    from auroral.edge.backends.engine import require_tensorrt

    require_tensorrt()
    build_engines(args.bundle, args.precision, args.max_batch)
    return 0

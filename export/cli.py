"""``auroral export``: training run → model bundle; ``--verify`` re-checks one; ``--tensorrt`` builds engines.

Light at import time (stdlib + edge); the exporters are imported once the extra is known to be there.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from auroral.edge import progress
from auroral.edge.backends.cli import DEFAULT_MAX_BATCH, build_engines, precision_list
from auroral.edge.bundle import PRECISIONS
from auroral.edge.cli import positive_int
from auroral.edge.errors import UserError
from auroral.edge.extras import require


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="turn a training run into a model bundle (ONNX fp32/fp16/int8, TensorRT engines)",
        description="Export a training run to a self-describing model bundle, checking parity against PyTorch / "
                    "scikit-learn on the run's validation images; or re-check (--verify) an existing bundle.",
    )
    parser.add_argument("run_dir", nargs="?", type=Path, metavar="RUN_DIR",
                        help="training run directory (from auroral train)")
    parser.add_argument("--out", type=Path, metavar="BUNDLE_DIR", help="bundle directory to write")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing, non-empty --out (the new bundle is swapped in once complete)")
    parser.add_argument("--precision", type=precision_list, default=None, metavar="LIST",
                        help=f"comma list of {','.join(PRECISIONS)} (unset: all of them for CNNs, fp32 for KNN/SVM; "
                             "with --tensorrt, the engines to build)")
    parser.add_argument("--calibration", type=Path, metavar="DATA",
                        help="folder of frames for INT8 calibration (unset: the run's training images)")
    parser.add_argument("--calibration-images", type=int, default=64, metavar="N",
                        help="at most N calibration frames")
    parser.add_argument("--val-images", type=int, default=None, metavar="N",
                        help="check parity on the first N validation images only")
    parser.add_argument("--tensorrt", action="store_true",
                        help="also build TensorRT engines, as `auroral engine` does (needs TensorRT and a GPU)")
    parser.add_argument("--max-batch", type=positive_int, default=DEFAULT_MAX_BATCH, metavar="N",
                        help="largest batch of the TensorRT optimisation profile")
    parser.add_argument("--verify", type=Path, metavar="BUNDLE_DIR",
                        help="re-check an existing bundle: hashes and parity")
    progress.add_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    require("export", "torch", "onnx", "skl2onnx", "onnxconverter_common")
    if args.verify is None and (args.run_dir is None or args.out is None):
        raise UserError("give RUN_DIR and --out BUNDLE_DIR to export, or --verify BUNDLE_DIR to check a bundle")
    if args.verify is not None and (args.run_dir is not None or args.out is not None):
        raise UserError("--verify checks an existing bundle on its own: "
                        "give either RUN_DIR --out BUNDLE_DIR or --verify BUNDLE_DIR")
    if args.tensorrt:
        from auroral.edge.backends.engine import require_tensorrt

        require_tensorrt()
    root = args.verify if args.verify is not None else _export(args)
    from auroral.export.verify import verify_bundle

    for precision, result in verify_bundle(root).items():
        print(f"verified {root} {precision}: {result}")
    if args.tensorrt:
        build_engines(root, args.precision, args.max_batch)
    return 0


def _export(args: argparse.Namespace) -> Path:
    from auroral.export.build import export_run
    from auroral.export.source import open_run

    run = open_run(args.run_dir)
    precisions = args.precision or (list(PRECISIONS) if run.kind == "cnn" else ["fp32"])
    bundle = export_run(run, args.out, precisions, run_dir=args.run_dir, calibration=args.calibration,
                        max_calibration=args.calibration_images, val_limit=args.val_images, replace=args.force)
    metrics = bundle.manifest.metrics["export_validation"]
    for precision in bundle.manifest.variants:
        size = bundle.manifest.files[bundle.manifest.variants[precision]].bytes
        print(f"{precision}: {size / 1e6:.2f} MB, validation accuracy {metrics[precision]['accuracy']:.4f}, "
              f"top-1 agreement with fp32 {metrics[precision]['top1_agreement_with_fp32']:.4f}")
    if "int8_quantization" in metrics:
        q = metrics["int8_quantization"]
        print(f"int8 format {q['chosen']} (CPU batch-1 latency ms: {q['cpu_latency_ms_batch1']})")
    print(f"bundle written: {args.out}")
    return args.out

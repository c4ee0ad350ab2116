"""``auroral circle DIR``: the fisheye circle of a camera's frames, for ``[camera] circle`` or ``auroral train
--circle``. Argument parsing here (light imports); the detection is :mod:`auroral.edge.circle`."""
from __future__ import annotations

import argparse
from pathlib import Path

from auroral.edge.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "circle", help="find the fisheye circle in a camera's frames",
        description="Average the newest frames under DIR, find the fisheye circle (the sky; borders, text strips "
                    "and logos lie outside it) and print it in pixels of the full-size frames, as [camera] circle "
                    "and auroral train --circle take it.")
    parser.add_argument("folder", type=Path, metavar="DIR", help="folder of one camera's frames (searched recursively)")
    parser.add_argument("--frames", type=int, default=20, metavar="N", help="how many of the newest frames to use")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from auroral.edge.circle import CircleError, find_circle_in_files
    from auroral.edge.frames import is_frame

    if args.frames < 1:
        raise UserError(f"--frames {args.frames}: need at least one frame")
    if not args.folder.is_dir():
        raise UserError(f"{args.folder} is not a folder")
    paths = [path for path in args.folder.rglob("*") if is_frame(path) and path.is_file()]
    if not paths:
        raise UserError(f"no frames (JPEG, PNG, FITS) under {args.folder}")
    try:
        circle = find_circle_in_files(paths, args.frames)
    except CircleError as exc:
        raise UserError(f"{args.folder}: {exc}") from exc
    print(f"circle = [{circle.cx:.1f}, {circle.cy:.1f}, {circle.r:.1f}]  # {circle.width}×{circle.height} frames")
    return 0

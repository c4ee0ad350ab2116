"""The frames every bench measurement shares: the station's own (``--frames-dir``), else a synthetic night.

Synthetic frames are JPEGs at a realistic all-sky camera size, so decoding costs what it costs on a
station; the model input is produced from them by the station's own decode and preprocessing code.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from auroral.edge.errors import UserError
from auroral.edge.frames import read_frame
from auroral.edge.preprocess import Preprocessor, PreprocessSpec
from auroral.edge.tools.synth import night_sequence
from auroral.export.bench.stats import summarize, time_calls
from auroral.export.samples import frames_under


def bench_frames(out_dir: Path, count: int, camera_size: int, source: Path | None = None,
                 seed: int = 7) -> tuple[list[Path], str]:
    """``count`` frames and a description of where they came from; ``source``: a folder of the user's frames."""
    if source is not None:
        found = frames_under(source, "--frames-dir")
        if len(found) < count:
            raise UserError(f"--frames-dir {source} holds {len(found)} frames; --frames {count} needs that many")
        return found[:count], f"frames from {source}"
    frames = night_sequence(out_dir, n_frames=count, size=camera_size, seed=seed, breakup_len=min(5, count))
    return frames, f"synthetic night (auroral.edge.tools.synth), {camera_size}x{camera_size} JPEG"


def model_inputs(frames: list[Path], spec: PreprocessSpec) -> np.ndarray:
    """The (N, 3, S, S) float32 batch the station would feed the model for ``frames``."""
    preprocessor = Preprocessor(spec)
    return preprocessor.batch([read_frame(p, min_side=spec.min_source_side()) for p in frames])


def host_stages(frames: list[Path], spec: PreprocessSpec, repeats: int) -> dict[str, dict[str, float]]:
    """Per-frame cost of the CPU stages before the model: full vs reduced-size JPEG decode, preprocessing."""
    preprocessor = Preprocessor(spec)
    side = spec.min_source_side()
    reduced = [read_frame(p, min_side=side) for p in frames]
    out = np.empty((3, spec.size, spec.size), np.float32)
    n = len(frames)
    return {
        "decode_full": summarize(time_calls(lambda i: read_frame(frames[i % n]), repeats, 1)),
        "decode_reduced": summarize(time_calls(lambda i: read_frame(frames[i % n], side), repeats, 1)),
        "preprocess": summarize(time_calls(lambda i: preprocessor(reduced[i % n], out=out), repeats, 1)),
    }

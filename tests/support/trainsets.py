"""Tiny labelled image sets for the training tests (numpy + OpenCV, no model, a few KB each)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from auroral.edge.classes import CLASSES

#: one clearly different RGB colour per class, so even a 1-epoch model has something to learn
COLOURS = {name: ((37 * i) % 256, (91 * i + 60) % 256, (151 * i + 120) % 256) for i, name in enumerate(CLASSES)}


def make_image(label: str, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """RGB uint8: the class colour in a disc, plus noise, so every image is distinct."""
    image = np.zeros((size, size, 3), np.uint8)
    cv2.circle(image, (size // 2, size // 2), size // 2 - 1, COLOURS[label], -1)
    noise = rng.integers(-20, 21, image.shape)
    return np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def write_image(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return path


def make_folder_dataset(root: Path, per_class: int = 6, size: int = 32, seed: int = 0,
                        classes: tuple[str, ...] = CLASSES) -> Path:
    """``root/<class>/<n>.png``; file names carry a capture time, one night per image index."""
    rng = np.random.default_rng(seed)
    for label in classes:
        for n in range(per_class):
            write_image(root / label / f"KIR_201412{10 + n:02d}_2230{CLASSES.index(label):02d}.png",
                        make_image(label, rng, size))
    return root


def run_cli(argv: list[str]) -> int:
    """The real ``auroral`` entry point, in-process (exit code returned)."""
    import auroral.edge.cli as cli

    return cli.main(argv)

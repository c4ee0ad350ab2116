"""Tiny data sets in the published OATH layout (Clausen & Nickisch 2018) for the training and export tests.

``classifications/classifications.csv`` starts with ``#`` comment lines and a blank line, then the header
``class2,class6,picNum,picType,rotAng`` and one row per image; ``images/cropped_scaled/NNNNN.png`` holds the
images and ``images/cropped_scaled_rotated/NNNNN_<rotAng>.png`` the copies ``rotate.sh`` makes.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from auroral.edge.classes import OATH6
from support.trainsets import write_image

HEADER = [f"# OATH test set, line {n}: free text, commas, numbers 1,2,3 as in the published notes" for n in range(16)]


def _image(class6: int, rng: np.random.Generator, size: int) -> np.ndarray:
    """A disc whose colour encodes the class, plus noise, so each image differs and a baseline can learn it."""
    image = np.zeros((size, size, 3), np.uint8)
    colour = ((53 * class6 + 20) % 256, (97 * class6 + 60) % 256, (151 * class6 + 120) % 256)
    cv2.circle(image, (size // 2, size // 2), size // 2 - 1, colour, -1)
    return np.clip(image.astype(np.int16) + rng.integers(-20, 21, image.shape), 0, 255).astype(np.uint8)


def make_oath(root: Path, per_class: int = 6, size: int = 32, seed: int = 0) -> Path:
    """``per_class`` images of each of the six classes; rotation angles written as the CSV gives them."""
    rng = np.random.default_rng(seed)
    rows = []
    number = 0
    for class6, name in enumerate(OATH6):
        for _ in range(per_class):
            number += 1
            angle = str(int(rng.integers(0, 360)))
            image = _image(class6, rng, size)
            write_image(root / "images" / "cropped_scaled" / f"{number:05d}.png", image)
            write_image(root / "images" / "cropped_scaled_rotated" / f"{number:05d}_{angle}.png", np.rot90(image))
            rows.append(f"{int(class6 >= 3)},{class6},{number:05d},{name},{angle}")
    csv = root / "classifications" / "classifications.csv"
    csv.parent.mkdir(parents=True, exist_ok=True)
    csv.write_text("\n".join([*HEADER, "", "class2,class6,picNum,picType,rotAng", *rows]) + "\n", encoding="utf-8")
    return root

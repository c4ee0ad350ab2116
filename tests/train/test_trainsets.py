"""The tiny labelled image sets the training tests are built on must be real, decodable and distinct."""
from __future__ import annotations

from auroral.edge.classes import CLASSES
from auroral.edge.frames import read_frame
from support.trainsets import make_folder_dataset


def test_images_are_decodable_and_distinct(tmp_path):
    root = make_folder_dataset(tmp_path, per_class=2)
    files = sorted(root.rglob("*.png"))
    assert len(files) == 2 * len(CLASSES)
    images = [read_frame(f) for f in files]
    assert all(i.shape == (32, 32, 3) for i in images)
    assert len({i.tobytes() for i in images}) == len(images)

"""Augmentation respects the sky: circle stays masked, gain keeps colour balance, it is seeded."""
from __future__ import annotations

import numpy as np
import torch

from auroral.edge.preprocess import Preprocessor, PreprocessSpec
from auroral.train.augment import SkyAugment

SPEC = PreprocessSpec(size=32)


def _batch() -> torch.Tensor:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (48, 48, 3), dtype=np.uint8) for _ in range(4)]
    return torch.from_numpy(Preprocessor(SPEC).batch(images))


def test_outside_circle_stays_zero_and_seeded():
    augment = SkyAugment(SPEC)
    batch = _batch()
    out = augment(batch, torch.Generator().manual_seed(1))
    outside = torch.from_numpy(Preprocessor(SPEC)._mask) == 0
    assert out.shape == batch.shape
    assert torch.all(out[:, :, outside] == 0)
    assert torch.equal(out, augment(batch, torch.Generator().manual_seed(1)))
    assert not torch.equal(out, augment(batch, torch.Generator().manual_seed(2)))
    assert not torch.allclose(out, batch)


def test_gain_scales_raw_intensity_equally_in_all_channels():
    augment = SkyAugment(SPEC, gain=(1.2, 1.2))  # fixed gain; rotation/flip of a uniform disc changes nothing
    image = np.zeros((32, 32, 3), np.uint8)
    image[:] = (100, 50, 25)
    batch = torch.from_numpy(Preprocessor(SPEC).batch([image]))
    out = augment(batch, torch.Generator().manual_seed(0))
    mean, std = np.array(SPEC.mean), np.array(SPEC.std)
    raw = out[0, :, 16, 16].numpy() * std + mean  # back to [0, 1] intensity at the zenith
    np.testing.assert_allclose(raw * 255, np.array([100, 50, 25]) * 1.2, rtol=1e-4)

"""Pixel features are exactly average pooling (kernel = stride = S/P) and a channel-major flatten."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional

from auroral.edge.errors import UserError
from auroral.train.features import pixel_features


def test_matches_torch_avg_pool():
    batch = np.random.default_rng(0).normal(size=(2, 3, 32, 32)).astype(np.float32)
    expected = functional.avg_pool2d(torch.from_numpy(batch), kernel_size=4, stride=4).flatten(1).numpy()
    got = pixel_features(batch, pool=8)
    assert got.shape == (2, 3 * 8 * 8) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_channel_major_order():
    batch = np.zeros((1, 3, 4, 4), np.float32)
    batch[0, 1] = 1.0  # only the green plane
    features = pixel_features(batch, pool=2)[0]
    assert features.tolist() == [0.0] * 4 + [1.0] * 4 + [0.0] * 4


def test_pool_must_divide_size():
    with pytest.raises(UserError, match="must divide"):
        pixel_features(np.zeros((1, 3, 32, 32), np.float32), pool=6)

"""Augmentations that respect an all-sky image: rotation about the zenith, flips, brightness gain.

They act on preprocessed (normalised, masked) NCHW tensors. The gain is the same for all three
channels, so the colour balance that defines the ``colored`` class is never changed.
"""
from __future__ import annotations

import math

import torch
from torch.nn import functional

from auroral.edge.preprocess import Preprocessor, PreprocessSpec


class SkyAugment:
    """Random rotation (any angle), horizontal/vertical flips and gain jitter for a batch."""

    def __init__(self, spec: PreprocessSpec, gain: tuple[float, float] = (0.75, 1.33)):
        self.gain = gain
        mean = torch.tensor(spec.mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(spec.std, dtype=torch.float32).view(1, 3, 1, 1)
        self.offset, self.low, self.high = mean / std, -mean / std, (1 - mean) / std
        mask = Preprocessor(spec)._mask if spec.mask else None  # noqa: SLF001 - the one mask definition
        self.mask = torch.from_numpy(mask).view(1, 1, spec.size, spec.size) if mask is not None else None

    def __call__(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n = batch.shape[0]
        angle = torch.rand(n, generator=generator) * 2 * math.pi
        flip_x = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
        flip_y = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
        cos, sin = torch.cos(angle), torch.sin(angle)
        zero = torch.zeros(n)  # rotation @ diag(flip_x, flip_y), no translation: the zenith stays put
        theta = torch.stack([torch.stack([cos * flip_x, -sin * flip_y, zero], 1),
                             torch.stack([sin * flip_x, cos * flip_y, zero], 1)], 1)
        grid = functional.affine_grid(theta.to(batch), list(batch.shape), align_corners=False)
        out = functional.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        low, high = self.gain
        gain = torch.exp(torch.empty(n).uniform_(math.log(low), math.log(high), generator=generator))
        gain = gain.view(n, 1, 1, 1).to(batch)
        offset, lo, hi = self.offset.to(batch), self.low.to(batch), self.high.to(batch)
        out = torch.maximum(torch.minimum(gain * out + (gain - 1) * offset, hi), lo)  # gain on raw intensity
        if self.mask is not None:
            out = out * self.mask.to(batch)
        return out

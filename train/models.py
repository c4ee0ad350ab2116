"""The architectures of the study that torchvision offers, with a head for our classes.

``build_model`` returns LOGITS; softmax is added by :meth:`auroral.train.runs.Run.torch_model`.
"""
from __future__ import annotations

import copy
import logging
from pathlib import Path

import torch
from torch import nn

from auroral.edge.errors import UserError
from auroral.train.config import ARCHITECTURES

log = logging.getLogger(__name__)


def _architecture(name: str) -> tuple[str, str]:
    if name not in ARCHITECTURES:
        raise UserError(f"unknown model {name!r}; expected one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]


def _set_module(model: nn.Module, dotted: str, module: nn.Module) -> None:
    parent_path, _, leaf = dotted.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    setattr(parent, leaf, module)


def _imagenet(arch: str) -> nn.Module:
    from torchvision.models import get_model, get_model_weights

    weights = get_model_weights(arch).DEFAULT
    try:
        return get_model(arch, weights=weights)
    except Exception as exc:  # noqa: BLE001 - urllib/HTTP/hash errors all mean "could not fetch"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"cannot download ImageNet weights {weights} ({reason}); without internet, "
                        f"download them elsewhere and pass --weights FILE") from exc


def _load_weights(model: nn.Module, path: Path, head: str) -> None:
    """Load a local state dict; a head of another shape (e.g. 1000 ImageNet classes) is left fresh."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise UserError(f"weights file {path} not found") from exc
    except Exception as exc:  # noqa: BLE001 - pickle/zip errors for a file that is not a state dict
        raise UserError(f"cannot read weights file {path}: {exc}") from exc
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    own = model.state_dict()
    skipped = [k for k, v in state.items() if k.startswith(head + ".") and k in own and own[k].shape != v.shape]
    state = {k: v for k, v in state.items() if k not in skipped}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith(head + ".")]
    if missing or unexpected:
        raise UserError(f"weights file {path} does not fit this architecture: "
                        f"{len(missing)} missing and {len(unexpected)} unexpected tensors "
                        f"(e.g. {(missing + unexpected)[0]})")
    log.info("event=weights_loaded path=%s head_reset=%s", path, bool(skipped))


def build_model(name: str, num_classes: int, pretrained: str | None = None, weights: Path | None = None) -> nn.Module:
    """A torchvision network for ``num_classes`` returning logits; ``pretrained='imagenet'`` or local ``weights``."""
    from torchvision.models import get_model

    arch, head = _architecture(name)
    if pretrained not in (None, "imagenet"):
        raise UserError(f"--pretrained {pretrained!r}: only 'imagenet' is known")
    model = _imagenet(arch) if pretrained == "imagenet" else get_model(arch, weights=None)
    last = model.get_submodule(head)
    _set_module(model, head, nn.Linear(last.in_features, num_classes))
    if weights is not None:
        _load_weights(model, Path(weights), head)
    return model


def embedding_network(model: nn.Module, name: str) -> nn.Module:
    """A copy of ``model`` whose final Linear is the identity: NCHW → (N, D) penultimate features."""
    _, head = _architecture(name)
    embedding = copy.deepcopy(model)
    _set_module(embedding, head, nn.Identity())
    return embedding

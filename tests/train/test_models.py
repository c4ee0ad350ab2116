"""Model construction: logits for our classes, local weights, and a clear error for offline ImageNet."""
from __future__ import annotations

import pytest
import torch

from auroral.edge.errors import UserError
from auroral.train.models import build_model, embedding_network


@pytest.mark.parametrize("name", ["resnet18", "mobilenet"])
def test_logits_and_embedding_shapes(name):
    model = build_model(name, 7).eval()
    x = torch.zeros(2, 3, 32, 32)
    with torch.inference_mode():
        logits = model(x)
        embedding = embedding_network(model, name)(x)
    assert logits.shape == (2, 7)
    assert embedding.ndim == 2 and embedding.shape[0] == 2 and embedding.shape[1] > 7


def test_imagenet_offline_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no cached weights: a download must be attempted
    with pytest.raises(UserError) as caught:
        build_model("resnet18", 7, pretrained="imagenet")
    assert "cannot download ImageNet weights" in str(caught.value) and "--weights" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_local_weights_loaded_and_foreign_head_reset(tmp_path):
    source = build_model("resnet18", 1000)
    torch.save(source.state_dict(), tmp_path / "imagenet_like.pt")
    model = build_model("resnet18", 7, weights=tmp_path / "imagenet_like.pt")
    assert torch.equal(model.conv1.weight, source.conv1.weight)
    assert model.fc.out_features == 7
    torch.save({"model": model.state_dict()}, tmp_path / "checkpoint_like.pt")
    again = build_model("resnet18", 7, weights=tmp_path / "checkpoint_like.pt")
    assert torch.equal(again.fc.weight, model.fc.weight)


def test_bad_weights_files(tmp_path):
    with pytest.raises(UserError, match="not found"):
        build_model("resnet18", 7, weights=tmp_path / "absent.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(UserError, match="cannot read weights"):
        build_model("resnet18", 7, weights=tmp_path / "junk.pt")
    torch.save(build_model("mobilenet", 7).state_dict(), tmp_path / "other.pt")
    with pytest.raises(UserError, match="does not fit"):
        build_model("resnet18", 7, weights=tmp_path / "other.pt")

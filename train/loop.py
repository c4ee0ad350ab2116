"""The CNN training loop: class-weighted loss, AdamW/SGD with a schedule, AMP on GPU, early stopping on
validation macro-F1, a checkpoint every epoch (``--resume``), DDP under torchrun, seeded throughout.
"""
from __future__ import annotations

import logging
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from auroral.edge import progress
from auroral.edge.errors import UserError
from auroral.train import runs
from auroral.train.augment import SkyAugment
from auroral.train.config import TrainConfig
from auroral.train.distributed import DistContext
from auroral.train.metrics import macro_f1
from auroral.train.models import build_model

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def class_weights(y: np.ndarray, num_classes: int) -> torch.Tensor:
    """Inverse-frequency weights (n / (C * count)), so rare classes such as breakup count as much."""
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)
    return torch.tensor(len(y) / (num_classes * np.maximum(counts, 1)), dtype=torch.float32)


def _optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, nesterov=True,
                               weight_decay=config.weight_decay)
    return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def _scheduler(config: TrainConfig, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    if config.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, config.epochs // 3), gamma=0.1)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)


def predict(model: nn.Module, x: torch.Tensor, device: torch.device, batch_size: int) -> np.ndarray:
    """Argmax labels for a cached tensor, in eval mode, with AMP on GPU."""
    model.eval()
    out = []
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
        for i in range(0, len(x), batch_size):
            out.append(model(x[i:i + batch_size].to(device, non_blocking=True)).argmax(1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _batches(n: int, epoch: int, config: TrainConfig, ctx: DistContext) -> list[torch.Tensor]:
    """This rank's shuffled index batches for ``epoch``; depends only on (seed, epoch), so resume is exact."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(config.seed * 1000 + epoch))
    mine = order[ctx.rank::ctx.world_size]
    batches = list(torch.split(mine, config.batch_size))
    if len(batches) > 1 and len(batches[-1]) == 1:  # BatchNorm cannot train on a batch of one
        batches.pop()
    return batches


def train_cnn(config: TrainConfig, run_dir: Path, data: dict[str, tuple[np.ndarray, np.ndarray]],
              ctx: DistContext, resume: bool) -> list[dict[str, Any]]:
    """Train and keep ``best.pt`` (best val macro-F1) and ``checkpoint.pt`` (last epoch); returns the history."""
    seed_everything(config.seed)
    num_classes = len(config.classes)
    model = build_model(config.model, num_classes, config.pretrained,
                        Path(config.weights) if config.weights else None).to(ctx.device)
    optimizer = _optimizer(config, model)
    scheduler = _scheduler(config, optimizer)
    scaler = torch.amp.GradScaler("cuda", enabled=ctx.device.type == "cuda")
    state: dict[str, Any] = {"epoch": 0, "best_f1": -1.0, "best_epoch": 0, "stale": 0, "history": []}
    checkpoint_path = run_dir / runs.CHECKPOINT
    if resume:
        if not checkpoint_path.is_file():
            raise UserError(f"--resume: {checkpoint_path} does not exist")
        checkpoint = torch.load(checkpoint_path, map_location=ctx.device, weights_only=True)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        scaler.load_state_dict(checkpoint["scaler"])
        state = checkpoint["state"]
        torch.set_rng_state(checkpoint["torch_rng"])  # dropout continues as if never interrupted
        if isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR):
            scheduler.T_max = config.epochs  # --resume --epochs N stretches the cosine to the new end
        log.info("event=resumed run=%s from_epoch=%d", run_dir, state["epoch"])
    net = DistributedDataParallel(model, device_ids=[ctx.device] if ctx.device.type == "cuda" else None) \
        if ctx.enabled else model
    x_train, y_train = (torch.from_numpy(a) for a in data["train"])
    x_val, y_val = torch.from_numpy(data["val"][0]), data["val"][1]
    weights = class_weights(data["train"][1], num_classes) if config.class_weights else None
    loss_fn = nn.CrossEntropyLoss(weight=weights.to(ctx.device) if weights is not None else None)
    augment = SkyAugment(config.preprocess) if config.augment else None
    for epoch in range(state["epoch"] + 1, config.epochs + 1):
        if state["stale"] >= config.patience:
            break
        started = time.perf_counter()
        net.train()
        generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch * 101 + ctx.rank)
        batches = _batches(len(x_train), epoch, config, ctx)
        bar = progress.bar(batches, desc=f"epoch {epoch}/{config.epochs}", unit="batch", hide=not ctx.is_main,
                   leave=True, dynamic_ncols=True)
        total, seen = 0.0, 0
        for index in bar:
            xb = x_train[index]
            if augment is not None:
                xb = augment(xb, generator)
            xb, yb = xb.to(ctx.device, non_blocking=True), y_train[index].to(ctx.device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(ctx.device.type, dtype=torch.float16, enabled=ctx.device.type == "cuda"):
                loss = loss_fn(net(xb), yb)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            total, seen = total + float(loss.item()) * len(index), seen + len(index)
            bar.set_postfix(loss=f"{total / max(seen, 1):.4f}")
        scheduler.step()
        val_f1 = val_acc = 0.0
        if ctx.is_main:
            y_pred = predict(model, x_val, ctx.device, config.batch_size * 2)
            val_f1, val_acc = macro_f1(y_val, y_pred, num_classes), float(np.mean(y_pred == y_val))
        val_f1 = ctx.broadcast(val_f1)
        seconds = time.perf_counter() - started
        bar.set_postfix(loss=f"{total / max(seen, 1):.4f}", val_f1=f"{val_f1:.3f}", val_acc=f"{val_acc:.3f}")
        bar.close()
        improved = val_f1 > state["best_f1"]
        state.update(epoch=epoch, stale=0 if improved else state["stale"] + 1)
        if improved:
            state.update(best_f1=val_f1, best_epoch=epoch)
        state["history"].append({"epoch": epoch, "train_loss": total / max(seen, 1), "val_macro_f1": val_f1,
                                 "val_accuracy": val_acc, "seconds": round(seconds, 3),
                                 "lr": optimizer.param_groups[0]["lr"]})
        if ctx.is_main:
            log.info("event=epoch_done epoch=%d loss=%.4f val_macro_f1=%.4f val_accuracy=%.4f seconds=%.2f best=%s",
                     epoch, total / max(seen, 1), val_f1, val_acc, seconds, improved)
            if improved:
                torch.save({"model": model.state_dict(), "epoch": epoch, "val_macro_f1": val_f1}, run_dir / runs.BEST)
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "state": state,
                        "torch_rng": torch.get_rng_state()},
                       checkpoint_path)
    if state["stale"] >= config.patience:
        log.info("event=early_stop epoch=%d best_epoch=%d best_val_macro_f1=%.4f", state["epoch"],
                 state["best_epoch"], state["best_f1"])
    return state["history"]

"""DistributedDataParallel set-up when launched by ``torchrun`` (which sets LOCAL_RANK, RANK, WORLD_SIZE).

A plain ``auroral train`` runs in one process and never touches torch.distributed.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from auroral.edge.errors import UserError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    device: torch.device
    enabled: bool

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def broadcast(self, value: float) -> float:
        """Rank 0's value on every rank (validation runs on rank 0 only)."""
        if not self.enabled:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.broadcast(tensor, src=0)
        return float(tensor.item())

    def close(self) -> None:
        if self.enabled:
            dist.destroy_process_group()


def resolve_device(requested: str) -> torch.device:
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda requested but no CUDA GPU is available (use --device cpu)")
    if requested != "cpu" and not requested.startswith("cuda"):
        raise UserError(f"--device {requested!r}: expected cpu or cuda")
    return torch.device(requested)


def setup(requested: str) -> DistContext:
    """Join the process group when started by torchrun; otherwise a single-process context."""
    device = resolve_device(requested)
    if "LOCAL_RANK" not in os.environ:
        return DistContext(rank=0, world_size=1, device=device, enabled=False)
    local_rank = int(os.environ["LOCAL_RANK"])
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    context = DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(), device=device, enabled=True)
    log.info("event=ddp_init rank=%d world_size=%d device=%s backend=%s", context.rank, context.world_size,
             device, dist.get_backend())
    return context

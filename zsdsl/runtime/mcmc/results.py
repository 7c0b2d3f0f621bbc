"""One chain's outcome (``ChainResult``), shared by the process chains (``sampler``) and the
vectorized ones (``vectorized``); ``sampler.MCMCResult`` holds a list of them."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class ChainResult:
    u: torch.Tensor  # [draws, D]
    stats: dict  # name -> tensor [draws]
    step_size: float
    inv_metric: torch.Tensor
    wall_s: float
    warmup_u: torch.Tensor | None = None  # [warmup, D] with save_warmup
    warmup_stats: dict | None = None
    rejections: dict = field(default_factory=dict)  # proposals rejected for a failed ODE solve, by reason

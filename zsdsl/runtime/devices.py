"""Devices and precisions: ``--device cpu|cuda|cuda:N|auto`` and ``--precision fp32|bf16|fp16``.

``resolve_device`` turns the option into a concrete device (``auto``: the first GPU if there is
one, else the CPU), refusing a GPU that is not there with what there is. ``autocast`` runs the
nets in reduced precision (``torch.autocast``: matrix products and convolutions in bf16/fp16,
reductions and the log-densities in the model's dtype); fp16 also needs a ``GradScaler`` so
small gradients do not underflow (``grad_scaler``). Data and parameters are moved to the device
once, before training; checkpoints are read onto the CPU unless a device is asked for.
"""

from __future__ import annotations

import contextlib

import torch

from zsdsl.errors import OptionError

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str) -> str:
    """``cpu``, ``cuda:N`` for ``cuda``/``cuda:N``/``auto``; an unavailable GPU is an ``OptionError``."""
    name = (name or "cpu").strip()
    if name == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return name
    if name == "cuda" or name.startswith("cuda:"):
        index = name.partition(":")[2] or "0"
        if not index.isdigit():
            raise OptionError(f"Unknown device '{name}'; use cpu, cuda, cuda:N or auto.")
        if not torch.cuda.is_available():
            raise OptionError(f"--device {name}: CUDA is not available on this machine (use cpu or auto).")
        count = torch.cuda.device_count()
        if int(index) >= count:
            raise OptionError(f"--device {name}: this machine has {count} GPU(s), cuda:0 .. cuda:{count - 1}.")
        return f"cuda:{int(index)}"
    raise OptionError(f"Unknown device '{name}'; use cpu, cuda, cuda:N or auto.")


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise OptionError(f"Unknown precision '{precision}'; choose one of {', '.join(PRECISIONS)}.")


def autocast(precision: str, device: str):
    """The context the loss is computed in: nets in ``precision`` (a no-op for fp32)."""
    dtype = PRECISIONS[precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)


def grad_scaler(precision: str, device: str):
    """A loss scaler for fp16 (None otherwise)."""
    if precision != "fp16":
        return None
    return torch.amp.GradScaler(torch.device(device).type)

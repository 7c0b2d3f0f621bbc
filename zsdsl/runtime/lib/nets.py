"""Neural-network links for generated code (``zl.nets``), acting on ``[..., *elem_in]``.

Linear/MLP work on any leading dims; conv layers flatten leading dims into one batch dim.
``forward_with_weights`` evaluates a Linear/MLP with weights that are latent variables
(Bayesian nets), possibly with leading sample dims.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

_ACTS = {
    "relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "softplus": F.softplus, "elu": F.elu,
    "leaky_relu": F.leaky_relu, "gelu": F.gelu, "identity": lambda x: x, "softmax": lambda x: torch.softmax(x, -1),
}  # fmt: skip


class Activation(nn.Module):
    def __init__(self, name: str):
        super().__init__()
        if name not in _ACTS:
            raise ValueError(f"unknown activation {name!r}; expected one of {sorted(_ACTS)}")
        self.name = name
        self.fn = _ACTS[name]

    def forward(self, x):
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.name


def _float(x, like):
    """Integer data (e.g. binary pixels) enters a net as floats of the weights' dtype."""
    return x if x.is_floating_point() else x.to(like.dtype)


class Linear(nn.Linear):
    """``nn.Linear``; its weights are ``W0``/``b0`` when they are latents."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__(int(n_in), int(n_out))

    def forward(self, x):
        return super().forward(_float(x, self.weight))


class MLP(nn.Module):
    """Linear layers between consecutive ``sizes``, ``act`` between them, optional ``out`` at the end."""

    def __init__(self, sizes, act: str = "relu", out: str | None = None):
        super().__init__()
        sizes = [int(s) for s in sizes]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = _ACTS[act]
        self.out = _ACTS[out] if out else None

    def forward(self, x):
        x = _float(x, self.layers[0].weight)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = self.act(x)
        return self.out(x) if self.out is not None else x


class Reshape(nn.Module):
    def __init__(self, in_shape, out_shape):
        super().__init__()
        self.in_shape, self.out_shape = tuple(int(s) for s in in_shape), tuple(int(s) for s in out_shape)

    def forward(self, x):
        lead = x.shape[: x.dim() - len(self.in_shape)]
        return x.reshape(*lead, *self.out_shape)


class Flatten(nn.Module):
    def __init__(self, ndims: int):
        super().__init__()
        self.ndims = int(ndims)

    def forward(self, x):
        return x.flatten(-self.ndims) if self.ndims > 1 else x


class _Conv(nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        lead = x.shape[:-3]
        y = self.layer(_float(x, self.layer.weight).reshape(-1, *x.shape[-3:]))
        return y.reshape(*lead, *y.shape[-3:])


class Conv2d(_Conv):
    def __init__(self, c_in, c_out, kernel, stride=1, padding=0):
        super().__init__(nn.Conv2d(int(c_in), int(c_out), kernel, stride=stride, padding=padding))


class ConvTranspose2d(_Conv):
    def __init__(self, c_in, c_out, kernel, stride=1, padding=0):
        super().__init__(nn.ConvTranspose2d(int(c_in), int(c_out), kernel, stride=stride, padding=padding))


class Embedding(nn.Embedding):
    def forward(self, idx):
        return super().forward(idx.long())


class Sequential(nn.Sequential):
    pass


def _linears(module) -> list[nn.Linear]:
    return [module] if isinstance(module, nn.Linear) else list(module.layers)


def weight_shapes(module) -> dict[str, tuple]:
    """``W0, b0, W1, b1, ...`` with W_i of shape [out, in] and b_i [out], in layer order."""
    out = {}
    for i, lin in enumerate(_linears(module)):
        out[f"W{i}"], out[f"b{i}"] = tuple(lin.weight.shape), tuple(lin.bias.shape)
    return out


def _affine(x, W, b, plate_rank: int):
    """x ``[*S?, *plates, in]`` @ W ``[*S, out, in]``ᵀ + b ``[*S, out]``, the plates flattened into the matrix rows.

    Flattening keeps this one (batched) matmul per sample instead of a broadcast that would
    copy W once per plate element.
    """
    plates = x.shape[x.dim() - 1 - plate_rank : -1]
    rows = x.reshape(*x.shape[: x.dim() - 1 - plate_rank], math.prod(plates), x.shape[-1])
    y = torch.matmul(rows, W.transpose(-1, -2)) + b.unsqueeze(-2)
    return y.reshape(*y.shape[:-2], *plates, y.shape[-1])


def forward_with_weights(module, weights: dict, x, plate_rank: int):
    """``module(x)`` with latent weights ``[*S, *param_shape]``: x ``[*S?, *plates, in]`` to ``[*S, *plates, out]``."""
    layers = _linears(module)
    x = _float(x, weights["W0"])
    for i in range(len(layers)):
        x = _affine(x, weights[f"W{i}"], weights[f"b{i}"], plate_rank)
        if isinstance(module, MLP):
            if i < len(layers) - 1:
                x = module.act(x)
            elif module.out is not None:
                x = module.out(x)
    return x

"""Plate and size helpers called by generated code: minibatch indices, N/B scaling, sizes."""

from __future__ import annotations

import torch

from zsdsl.runtime.lib.shards import ShardSize


def size_of(data, field: str, axis: int) -> int:
    """The size of ``data[field]`` along ``axis`` (a size bound from a data shape)."""
    if field not in data:
        raise KeyError(f"data field '{field}' is missing (it gives a size of the model)")
    value = data[field]
    shape = tuple(value.shape) if hasattr(value, "shape") else _list_shape(value)
    if axis >= len(shape):
        raise ValueError(f"data field '{field}' has {len(shape)} dims; the model needs at least {axis + 1}")
    return int(shape[axis])


def _list_shape(value) -> tuple[int, ...]:
    shape = []
    while isinstance(value, (list, tuple)):
        shape.append(len(value))
        value = value[0] if value else None
    return tuple(shape)


def size_given(data, name: str) -> int:
    """A size given with the data under its own name (a dim without a value, or an int data scalar)."""
    if name not in data:
        raise KeyError(f"the size '{name}' must be given with the data")
    value = data[name]
    return int(value.item() if hasattr(value, "item") else value)


def plate_indices(subsample, plate: str):
    """The minibatch indices of a plate, or None for the whole plate."""
    if subsample is None:
        return None
    return subsample.get(plate)


def plate_scale(idx, size: int) -> float:
    """N / B for a minibatch of B indices out of N (1.0 for the whole plate)."""
    return 1.0 if idx is None else float(size) / float(idx.shape[0])


def lift(x, n: int, keep: int):
    """``x[..., None × n, :× keep]``, skipped when ``x`` has at most ``keep`` dims (no sample dims):
    right-aligned broadcasting then gives the same result without an extra autograd node."""
    if not torch.is_tensor(x) or x.dim() <= keep:
        return x
    return x[(..., *([None] * n), *([slice(None)] * keep))]


def scaled(scale: float, term):
    """``scale * term``, without an op when the plate is not subsampled (scale 1)."""
    return term if scale == 1.0 else scale * term


def subsampled_plates(sizes: dict, batch: dict) -> dict[str, int]:
    """The plates whose minibatch is smaller than the plate (``plate_subsample`` of a model, against
    ``plate_sizes``): plate -> minibatch size."""
    return {p: int(b) for p, b in batch.items() if b and int(b) < int(sizes[p])}


def plate_size(idx, size: int) -> int:
    """The minibatch's size (a ``ShardSize`` in a data-parallel process's shard), else ``size``."""
    if idx is None:
        return size
    shard = getattr(idx, "_zs_shard", None)
    if shard is not None:
        return ShardSize(int(idx.shape[0]), *shard)
    return int(idx.shape[0])


def plate_arange(idx, size: int) -> torch.Tensor:
    return torch.arange(size) if idx is None else idx


_TAKEN: list = []  # the last few (x, idx, rank, rows): a guide and its model gather the same minibatch


def take_plate(x, idx, rank: int):
    """Select the minibatch rows ``idx`` along the dim ``rank`` places from the right.

    The rows of a data tensor are copied once per minibatch: the entries hold ``x`` and ``idx``
    themselves, so an identity match cannot be a recycled object."""
    if idx is None:
        return x
    if x.requires_grad:
        return x.index_select(x.dim() - rank, idx)
    for cx, cidx, crank, rows in _TAKEN:
        if cx is x and cidx is idx and crank == rank:
            return rows
    rows = x.index_select(x.dim() - rank, idx)
    _TAKEN.insert(0, (x, idx, rank, rows))
    del _TAKEN[4:]
    return rows


def given(values, name: str, draw):
    """``values[name]`` when the caller fixed it, else a fresh draw."""
    if values is not None and name in values:
        return values[name]
    return draw()


def leading_shape(x, rank: int) -> tuple:
    """The leading (sample) dims of ``x`` before its last ``rank`` dims."""
    return tuple(x.shape[: x.dim() - rank])


def fill_plates(x, sizes: tuple):
    """Expand the trailing plate dims of a term (size 1 where it does not vary) to the plate sizes."""
    x = torch.as_tensor(x, dtype=torch.get_default_dtype()) if not torch.is_tensor(x) else x
    if x.dim() < len(sizes):
        x = x.reshape((1,) * (len(sizes) - x.dim()) + tuple(x.shape))
    return x.expand(*x.shape[: x.dim() - len(sizes)], *sizes)


def reduce_terms(terms: dict, term_plates: dict, keep: str | None = None) -> dict:
    """Sum each term over its plate dims; with ``keep``, the dim of that plate stays (last)."""
    out = {}
    for name, value in terms.items():
        plates = term_plates.get(name, ())
        if not torch.is_tensor(value):
            value = torch.as_tensor(value, dtype=torch.get_default_dtype())
        if not plates:
            out[name] = value
            continue
        n = len(plates)
        if keep in plates:
            pos = plates.index(keep) - n  # its dim counted from the right
            dims = tuple(i for i in range(-n, 0) if i != pos)
            out[name] = value.sum(dims) if dims else value
        else:
            out[name] = value.sum(tuple(range(-n, 0)))
    return out

"""Shards of a minibatch for data-parallel runs: each process draws one process's random numbers.

A data-parallel fit splits each minibatch of a subsampled plate into one contiguous shard per
process (``shard_indices``). For its run to be the one-process run draw for draw, a process must
give its rows the random numbers the whole minibatch would have had, and every process must take
the same count from the shared generator (the global latents' draws come after). So a draw whose
shape has a shard's size in it (``ShardSize``, from ``plates.plate_size``) draws the whole
minibatch's shape and keeps its own rows:

- families whose sampler takes a fixed count of random numbers per element (Normal, LogNormal,
  Laplace, Cauchy, Gumbel, Uniform, Exponential, Bernoulli, Categorical, OneHotCategorical,
  MultivariateNormal, LowRankMultivariateNormal) are padded to the whole minibatch (the shard's first
  row repeated where the other processes' rows would be) and drawn there: the same numbers;
- any other family (rejection samplers: Gamma, Beta, Dirichlet, Poisson, ...) draws its shard from a
  generator seeded by one number taken from the shared stream, so the processes stay in step; such a
  run is a valid draw but not the one-process run's, and ``NOTES`` says which families did it.
"""

from __future__ import annotations

import torch
import torch.distributions as td

# the constructor arguments that rebuild each fixed-count family from padded tensors
PADDABLE = {
    td.Normal: ("loc", "scale"),
    td.LogNormal: ("loc", "scale"),
    td.Laplace: ("loc", "scale"),
    td.Cauchy: ("loc", "scale"),
    td.Gumbel: ("loc", "scale"),
    td.Uniform: ("low", "high"),
    td.Exponential: ("rate",),
    td.Bernoulli: ("logits",),
    td.Categorical: ("logits",),
    td.OneHotCategorical: ("logits",),
    td.MultivariateNormal: ("loc", "scale_tril"),
    td.LowRankMultivariateNormal: ("loc", "cov_factor", "cov_diag"),
}

NOTES: set[str] = set()  # the families drawn per process (not the one-process run's numbers)


class ShardSize(int):
    """A plate's size in this process's shard (the int itself), with the whole minibatch's size
    (``full``) and the shard's first row in it (``start``)."""

    def __new__(cls, size: int, full: int, start: int):
        out = super().__new__(cls, size)
        out.full, out.start = int(full), int(start)
        return out


def shard_indices(idx: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """Process ``rank``'s contiguous shard of a minibatch's indices (the batch divides evenly)."""
    b = idx.shape[0] // world
    part = idx[rank * b : (rank + 1) * b]
    part._zs_shard = (int(idx.shape[0]), rank * b)  # read by plates.plate_size
    return part


def find_shard(shape) -> tuple[int, ShardSize] | None:
    """(axis, size) of the shard in a draw's shape, if there is one."""
    for axis, size in enumerate(shape):
        if isinstance(size, ShardSize):
            return axis, size
    return None


def draw_shard(d: td.Distribution, shape, reparam: bool, axis: int, size: ShardSize) -> torch.Tensor:
    """A draw of batch shape ``shape`` with the random numbers of rows ``size.start ..`` of the whole
    minibatch's draw (see the module's docstring)."""
    shape = torch.Size(shape)
    if tuple(d.batch_shape) != tuple(shape):
        d = d.expand(torch.broadcast_shapes(d.batch_shape, shape))
    names = PADDABLE.get(type(d))
    if names is None:
        NOTES.add(type(d).__name__)
        seed = int(torch.randint(0, 2**62, ()))  # the same count from the shared stream in every process
        device = next((t.device for t in vars(d).values() if torch.is_tensor(t)), torch.device("cpu"))
        gpus = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=gpus, device_type="cuda"):
            torch.manual_seed(seed + size.start)
            return d.rsample() if reparam and d.has_rsample else d.sample()
    padded = type(d)(**{n: _pad(getattr(d, n), axis, size) for n in names}, validate_args=False)
    x = padded.rsample() if reparam and padded.has_rsample else padded.sample()
    return x.narrow(axis, size.start, int(size))


def _pad(p: torch.Tensor, axis: int, size: ShardSize) -> torch.Tensor:
    """``p`` with the shard's first row repeated where the rows before and after it would be."""
    first = p.narrow(axis, 0, 1)
    parts = []
    if size.start:
        parts.append(first.expand(*p.shape[:axis], size.start, *p.shape[axis + 1 :]))
    parts.append(p)
    after = size.full - size.start - int(size)
    if after:
        parts.append(first.expand(*p.shape[:axis], after, *p.shape[axis + 1 :]))
    return torch.cat(parts, axis) if len(parts) > 1 else p

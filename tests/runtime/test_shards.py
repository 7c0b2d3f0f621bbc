"""A data-parallel shard's draws are the whole minibatch's draws at its rows (``lib.shards``)."""

import pytest
import torch
import torch.distributions as td

from zsdsl.runtime.lib import dist
from zsdsl.runtime.lib.plates import plate_size
from zsdsl.runtime.lib.shards import NOTES, shard_indices

B, K, D = 6, 3, 4


def _families(rows: slice):
    """Each family with parameters for the minibatch's rows ``rows`` (values differ row by row)."""
    g = torch.Generator().manual_seed(5)
    loc = torch.randn(B, D, generator=g, dtype=torch.float64)[rows]
    pos = loc.exp()
    tril = torch.eye(D, dtype=torch.float64).expand(B, D, D)[rows] * pos[..., None]
    return {
        "Normal": td.Normal(loc, pos),
        "LogNormal": td.LogNormal(loc, pos),
        "Laplace": td.Laplace(loc, pos),
        "Gumbel": td.Gumbel(loc, pos),
        "Uniform": td.Uniform(loc, loc + pos),
        "Exponential": td.Exponential(pos),
        "Bernoulli": td.Bernoulli(logits=loc),
        "Categorical": td.Categorical(logits=loc),
        "MultivariateNormal": td.MultivariateNormal(loc, scale_tril=tril),
    }


@pytest.mark.parametrize("name", list(_families(slice(None))))
@pytest.mark.parametrize("reparam", [True, False])
def test_each_shard_gets_its_rows_of_the_whole_draw(name, reparam):
    torch.set_default_dtype(torch.float64)
    idx = torch.arange(B)
    torch.manual_seed(0)
    whole_d = _families(slice(None))[name]
    event = whole_d.batch_shape[1:] if name != "Categorical" else ()
    whole = dist.draw(whole_d, (K, B, *event) if name != "Categorical" else (K, B), reparam)
    after_whole = torch.rand(3)  # the shared stream is left where the one-process run leaves it
    for world in (2, 3):
        parts = []
        torch.manual_seed(0)
        state = torch.get_rng_state()  # every process starts from the same state
        for rank in range(world):
            torch.set_rng_state(state)
            part = shard_indices(idx, rank, world)
            n = plate_size(part, 100)
            assert n == B // world and n.full == B and n.start == rank * (B // world)
            rows = slice(n.start, n.start + n)
            d = _families(rows)[name]
            parts.append(dist.draw(d, (K, n, *event) if name != "Categorical" else (K, n), reparam))
        torch.testing.assert_close(torch.cat(parts, 1), whole, rtol=0, atol=0)
        torch.testing.assert_close(torch.rand(3), after_whole, rtol=0, atol=0)


def test_a_rejection_sampler_draws_per_process_and_keeps_the_stream_in_step():
    torch.set_default_dtype(torch.float64)
    NOTES.clear()
    idx = torch.arange(B)
    draws, after = [], []
    for rank in range(2):
        torch.manual_seed(0)
        part = shard_indices(idx, rank, 2)
        draws.append(dist.draw(td.Gamma(torch.full((3,), 2.0), 1.0), (plate_size(part, B),), False))
        after.append(torch.rand(2))
    assert NOTES == {"Gamma"}
    assert not torch.equal(draws[0], draws[1])  # each shard its own numbers
    torch.testing.assert_close(after[0], after[1], rtol=0, atol=0)

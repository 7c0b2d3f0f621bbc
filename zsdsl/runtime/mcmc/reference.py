"""Checking NUTS against a reference posterior (posteriordb's ``reference.json``: mean and sd per scalar).

The criterion, for every reference parameter: |mean - ref_mean| <= 0.1 ref_sd + 3 mcse_mean, and
|sd / ref_sd - 1| <= 0.1, or three Monte Carlo standard errors of the sd (ArviZ's mcse_sd) where
that is larger (small effective sample sizes, heavy tails). Used by the posteriordb tests and by
``benchmarks/posteriordb.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

# The centred eight schools is the funnel that defeats NUTS at Stan's default target acceptance: tens of
# divergences, small tau under-visited, tau's mean and every theta's sd biased upwards by about 10 %
# (measured: theta[4] sd 5.26 vs 4.77). Stan's advice for divergences is a higher adapt_delta; so here.
SETTINGS = {"eight_schools-eight_schools_centered": {"target_accept": 0.95}}


def data_file(folder: Path) -> Path:
    plain = folder / "data.json"
    return plain if plain.exists() else folder / "data.json.gz"


def zero_based(name: str) -> str:
    """posteriordb's 1-based ``theta[1,2]`` as the summary's 0-based ``theta[0,1]``."""
    if not name.endswith("]"):
        return name
    base, idx = name[:-1].split("[", 1)
    return f"{base}[{','.join(str(int(i) - 1) for i in idx.split(','))}]"


def compare(table: dict, ref: dict) -> list[str]:
    """The reference parameters whose mean or sd the draws' summary ``table`` misses (the failures
    name the parameters as posteriordb does, 1-based)."""
    failures = []
    for name, want in ref.items():
        got = table[zero_based(name)]
        if abs(got["mean"] - want["mean"]) > 0.1 * want["sd"] + 3 * got["mcse_mean"]:
            failures.append(f"{name}: mean {got['mean']:.4g} vs {want['mean']:.4g} (sd {want['sd']:.3g})")
        if abs(got["sd"] / want["sd"] - 1) > max(0.1, 3 * got["mcse_sd"] / got["sd"]):
            failures.append(f"{name}: sd {got['sd']:.4g} vs {want['sd']:.4g} (ess {got['ess_bulk']:.0f})")
    return failures


def check_reference(spec: Path, folder: Path, seed: int = 1, chains: int = 4, warmup: int = 1000, draws: int = 1000,
                    reference: dict | None = None, **options) -> tuple[list[str], object]:  # fmt: skip
    """NUTS (4 chains, 1000 + 1000 by default) on ``spec`` with the posterior's data; (failures, result).
    ``reference`` (name -> mean, sd) stands in for the folder's ``reference.json`` where there is none;
    ``options``: more ``SamplerConfig`` fields (``chain_method="vectorized"``)."""
    import zsdsl
    from zsdsl.runtime.mcmc.output import flat_columns, summarize
    from zsdsl.runtime.mcmc.sampler import SamplerConfig, sample

    torch.set_default_dtype(torch.float64)
    cm = zsdsl.load(spec)
    data = cm.load_data(data_file(folder))
    config = SamplerConfig(
        chains=chains, warmup=warmup, draws=draws, seed=seed, **SETTINGS.get(folder.name, {}), **options
    )
    result = sample(cm.model(data), data, config)
    table = summarize(flat_columns(result.values()))
    ref = reference if reference is not None else json.loads((folder / "reference.json").read_text())["parameters"]
    return compare(table, ref), result

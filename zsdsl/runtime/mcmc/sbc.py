"""Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari & Gelman 2018).

For each simulation: draw the latents θ̃ from the prior and data ỹ from the model given them
(the data file supplies sizes and covariates; its observed fields are replaced), sample the
posterior p(θ | ỹ) with NUTS, thin to ``L`` draws, and record the rank of θ̃ among them, per
scalar parameter. With a correct sampler the ranks are uniform on {0, …, L}; a χ² test over
``bins`` equal-width bins gives a p-value per parameter, and ``plot_ranks`` draws the histograms
with the 99% band of a uniform bin count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from zsdsl.errors import ModelError, OptionError
from zsdsl.runtime.mcmc.output import flat_columns
from zsdsl.runtime.mcmc.potential import Potential
from zsdsl.runtime.mcmc.sampler import Chain, SamplerConfig


@dataclass
class SBCResult:
    ranks: dict  # "name[i]" -> int array [sims]
    L: int  # ranks lie in 0..L
    bins: int
    p_values: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        params = {k: {"p_value": self.p_values[k], "ranks": self.ranks[k].tolist()} for k in self.ranks}
        return {"L": self.L, "bins": self.bins, "sims": len(next(iter(self.ranks.values()), [])), "parameters": params}


def uniformity_p_value(ranks: np.ndarray, L: int, bins: int) -> float:
    """χ² test that ``ranks`` (integers in 0..L) are uniform, over ``bins`` bins of equal width."""
    from scipy.stats import chisquare

    if (L + 1) % bins:
        raise ValueError(f"L + 1 = {L + 1} must be a multiple of the number of bins {bins}")
    counts = np.bincount(np.asarray(ranks) * bins // (L + 1), minlength=bins)
    return float(chisquare(counts).pvalue)


def run_sbc(cm, data: dict, sims: int = 100, L: int = 99, thin: int = 2, warmup: int = 300, bins: int = 20,
            seed: int = 1, progress=None) -> SBCResult:  # fmt: skip
    """``sims`` simulations of ``cm`` (a CompiledModel) with ``data`` for sizes and covariates."""
    if (L + 1) % bins:
        raise OptionError(f"--draws + 1 ({L + 1}) must be a multiple of --bins ({bins}).")
    torch.manual_seed(seed)
    model = cm.model(data)
    observed = [k for k in model.observed]
    if not observed:
        raise ModelError("SBC simulates the observed data: the model observes nothing.")
    cfg = SamplerConfig(chains=1, warmup=warmup, draws=L * thin, seed=seed)
    ranks: dict = {}
    for s in range(sims):
        prior = model.sample({k: v for k, v in data.items() if k not in observed})
        sim = dict(data)
        for k in observed:
            value = prior[k]
            if cm.model_class.data_dtypes.get(k) == "int":
                value = value.round().long()
            sim[k] = value.to(torch.get_default_dtype()) if value.is_floating_point() else value
        potential = Potential(model, sim)
        truth = {n: prior[n] for n in (slot[0].name for slot in potential.slots)}
        chain = Chain(potential, cfg, seed * 100_003 + s)
        while not chain.done:
            chain.step()
        u = chain.result().u[::thin]
        with torch.no_grad():
            post, _ = potential.constrain(u)
        t_sc = flat_columns({n: v[None, None] for n, v in truth.items()})  # [1, 1] per scalar, named x[i,j]
        p_sc = flat_columns({n: v[None] for n, v in post.items()})  # [1, L]
        for name, draws in p_sc.items():
            ranks.setdefault(name, []).append(int((draws < t_sc[name][0, 0]).sum()))
        if progress is not None:
            progress(s + 1)
    ranks = {k: np.asarray(v) for k, v in ranks.items()}
    p = {k: uniformity_p_value(r, L, bins) for k, r in ranks.items()}
    return SBCResult(ranks, L, bins, p)


def plot_ranks(result: SBCResult, path, max_panels: int = 24) -> None:
    """Rank histograms, one panel per parameter, with the 99% band of a uniform bin count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import binom

    names = list(result.ranks)[:max_panels]
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    sims = len(result.ranks[names[0]])
    lo, hi = binom.ppf([0.005, 0.995], sims, 1 / result.bins)
    for i, (ax, name) in enumerate(zip(axes.flat, names)):
        counts = np.bincount(result.ranks[name] * result.bins // (result.L + 1), minlength=result.bins)
        ax.axhspan(lo, hi, color="0.85", label="99% range of a uniform count")
        ax.bar(np.arange(result.bins), counts, width=0.9, color="C0")
        ax.set_title(f"{name}  (chi-square p = {result.p_values[name]:.3f})", fontsize=9)
        ax.set_xticks([0, result.bins - 1], ["0", str(result.L)], fontsize=8)
        if i % cols == 0:
            ax.set_ylabel("simulations", fontsize=8)
        if i >= len(names) - cols:
            ax.set_xlabel("rank of the true value among the posterior draws", fontsize=8)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.suptitle(f"SBC rank histograms: {sims} simulations, {result.bins} bins; a calibrated posterior keeps every "
                 "bar inside the grey band (the 99% range of a uniform bin count)", fontsize=10)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

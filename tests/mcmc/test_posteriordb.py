"""Every posteriordb spec in specs/posteriordb/ against the reference posterior in ../shared/data/posteriordb:
for every reference parameter |mean - ref_mean| <= 0.1 ref_sd + 3 mcse and |sd / ref_sd - 1| <= 0.1
(or three Monte Carlo standard errors of the sd, ArviZ's mcse_sd, where that is larger)
(4 chains, 1000 warmup, 1000 draws, NUTS defaults but where SETTINGS says otherwise, seed 1). The quick
ones run by default, the rest are marked slow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import zsdsl
from zsdsl.runtime.data import load_data
from zsdsl.runtime.mcmc.output import flat_columns, summarize
from zsdsl.runtime.mcmc.sampler import SamplerConfig, sample

ROOT = Path(__file__).resolve().parents[2]
PDB = ROOT.parent / "shared" / "data" / "posteriordb"
SPECS = sorted((ROOT / "specs" / "posteriordb").glob("*.zs"))
QUICK = {"eight_schools-eight_schools_noncentered", "sblrc-blr", "mesquite-logmesquite_logvolume"}
# Not yet seen passing end to end (slow to run; see issue 5): run with `-m unverified`. (diamonds, the
# longest of the slow set, takes about 15 minutes on 2 cores: Stan's own run hits tree depth 10.)
UNVERIFIED: set[str] = set()
# The centred eight schools is the funnel that defeats NUTS at Stan's default target acceptance: tens of
# divergences, small tau under-visited, tau's mean and every theta's sd biased upwards by about 10 %
# (measured: theta[4] sd 5.26 vs 4.77). Stan's advice for divergences is a higher adapt_delta; so here.
SETTINGS = {"eight_schools-eight_schools_centered": {"target_accept": 0.95}}


# The library's own specs of the same posteriors, written with plates rather than vectors (and, for
# gmm_enum, with the mixture assignment enumerated rather than written as log_mix).
LIBRARY = [
    ("eight_schools_noncentered", "eight_schools-eight_schools_noncentered", []),
    ("blr", "sblrc-blr", []),
    ("gmm_enum", "low_dim_gauss_mix-low_dim_gauss_mix", [pytest.mark.slow]),
]


def _params():
    for name, posterior, marks in LIBRARY:
        yield pytest.param(ROOT / "specs" / f"{name}.zs", posterior, id=f"specs-{name}", marks=marks)
    for spec in SPECS:
        marks = [] if spec.stem in QUICK else [pytest.mark.slow]
        if spec.stem in UNVERIFIED:
            marks = [pytest.mark.unverified]
        yield pytest.param(spec, spec.stem, id=spec.stem, marks=marks)


@pytest.mark.parametrize("spec, posterior", list(_params()))
def test_matches_the_reference_posterior(spec, posterior):
    folder = PDB / posterior
    if not (folder / "reference.json").exists():
        pytest.skip("no reference posterior (posteriordb has no draws for it) or shared data absent")
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.load(spec)
    data_file = folder / "data.json"
    data = cm.prepare_data(load_data(data_file if data_file.exists() else folder / "data.json.gz"))
    config = SamplerConfig(chains=4, warmup=1000, draws=1000, seed=1, **SETTINGS.get(posterior, {}))
    r = sample(cm.model(data), data, config)
    table = summarize(flat_columns(r.values()))
    ref = json.loads((folder / "reference.json").read_text())["parameters"]
    failures = []
    for name, want in ref.items():
        got = table[name]
        if abs(got["mean"] - want["mean"]) > 0.1 * want["sd"] + 3 * got["mcse_mean"]:
            failures.append(f"{name}: mean {got['mean']:.4g} vs {want['mean']:.4g} (sd {want['sd']:.3g})")
        # 10 %, or 3 Monte Carlo standard errors of the sd estimate where the effective sample size is
        # small or the tails heavy (ArviZ's mcse_sd accounts for both)
        if abs(got["sd"] / want["sd"] - 1) > max(0.1, 3 * got["mcse_sd"] / got["sd"]):
            failures.append(f"{name}: sd {got['sd']:.4g} vs {want['sd']:.4g} (ess {got['ess_bulk']:.0f})")
    assert not failures, failures


def test_every_spec_checks_against_its_data():
    from zsdsl.compiler.data_check import check_data
    from zsdsl.compiler.pipeline import compile_file

    for spec in SPECS:
        folder = PDB / spec.stem
        if not folder.exists():
            continue
        data_file = folder / "data.json"
        check_data(compile_file(spec).ir, load_data(data_file if data_file.exists() else folder / "data.json.gz"))

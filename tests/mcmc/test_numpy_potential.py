"""The NumPy potential (``npad`` + ``np_lib``): every op's gradient against PyTorch autograd, every
closed-form density against ``zl.lpdf``, and whole models against the PyTorch potential."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import zsdsl
from zsdsl.runtime.data import load_data
from zsdsl.runtime.lib import lpdf as torch_lpdf
from zsdsl.runtime.lib import np_lib, npad
from zsdsl.runtime.lib.npad import Tape, Unsupported, Var
from zsdsl.runtime.mcmc.numpy_potential import NumpyPotential
from zsdsl.runtime.mcmc.potential import Potential

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # as `zsdsl sample` runs
    yield
    torch.set_default_dtype(old)


PDB = ROOT.parent / "shared" / "data" / "posteriordb"


def np_grads(fn, *args):
    """fn over Vars of ``args``: (value, gradients of the sum of the value)."""
    with Tape() as tape:
        xs = [Var(np.array(a, dtype=np.float64)) for a in args]
        out = npad.total([fn(*xs)])
        tape.backward(out)
    return float(out.v), [np.zeros(np.shape(a)) if x.g is None else np.asarray(x.g) for a, x in zip(args, xs)]


def torch_grads(fn, *args):
    xs = [torch.tensor(np.array(a), dtype=torch.float64, requires_grad=True) for a in args]
    out = fn(*xs).sum()
    gs = torch.autograd.grad(out, xs, allow_unused=True)
    return float(out.detach()), [np.zeros(np.shape(a)) if g is None else g.numpy() for a, g in zip(args, gs)]


def assert_same(np_fn, torch_fn, *args, rtol=1e-10):
    v1, g1 = np_grads(np_fn, *args)
    v2, g2 = torch_grads(torch_fn, *args)
    assert v1 == pytest.approx(v2, rel=1e-12, abs=1e-12)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12)


rng = np.random.default_rng(3)
VEC, MAT, POS = rng.normal(size=4), rng.normal(size=(3, 4)), rng.uniform(0.5, 2.0, size=4)

UNARY = [
    ("exp", torch.exp, VEC), ("log", torch.log, POS), ("log1p", torch.log1p, POS), ("expm1", torch.expm1, VEC),
    ("sqrt", torch.sqrt, POS), ("square", torch.square, VEC), ("sin", torch.sin, VEC), ("cos", torch.cos, VEC),
    ("tanh", torch.tanh, VEC), ("sigmoid", torch.sigmoid, VEC), ("softplus", torch.nn.functional.softplus, VEC),
    ("log_sigmoid", torch.nn.functional.logsigmoid, VEC), ("logit", torch.logit, POS / 3),
    ("lgamma", torch.lgamma, POS), ("digamma", torch.digamma, POS), ("erf", torch.erf, VEC), ("abs", torch.abs, VEC),
]  # fmt: skip


@pytest.mark.parametrize("name, torch_fn, x", UNARY, ids=[u[0] for u in UNARY])
def test_unary_functions_match_torch(name, torch_fn, x):
    # torch's trigamma (digamma's derivative) is accurate to about 1e-9 relative, SciPy's to 1e-15
    assert_same(getattr(np_lib, name), torch_fn, x, rtol=1e-8 if name == "digamma" else 1e-10)


def test_arithmetic_broadcasting_and_indexing_match_torch():
    def f(a, b, s):
        return (a * b - b / (s + 2.0) + 3.0 - a) ** 2 + (2.0**s) * a[1] + a[..., [0, 0, 2]].sum() + (-b) / 4.0

    assert_same(f, f, MAT, VEC, 0.3)
    assert_same(lambda a, b: a**b, lambda a, b: a**b, POS, VEC)
    assert_same(lambda a: 1.0 - 2.0 / a, lambda a: 1.0 - 2.0 / a, POS)


def test_reductions_products_and_joins_match_torch():
    assert_same(lambda m: np_lib.sum(m, 1), lambda m: m.sum(-1), MAT)
    assert_same(lambda m: np_lib.mean(m, 2), lambda m: m.mean((-1, -2)), MAT)
    assert_same(lambda m: np_lib.logsumexp(m, 1), lambda m: torch.logsumexp(m, -1), MAT)
    assert_same(np_lib.dot, lambda m, v: m @ v, MAT, VEC)
    assert_same(np_lib.dot, lambda a, b: a @ b, VEC, POS)
    assert_same(lambda v, m: np_lib.dot(v, m), lambda v, m: m @ v, VEC, MAT)
    assert_same(np_lib.matvec, lambda m, v: m @ v, MAT, VEC)
    assert_same(np_lib.vecmat, lambda v, m: v @ m, VEC[:3], MAT)
    assert_same(lambda a, b: np_lib.concat(a, b), lambda a, b: torch.cat([a, b]), VEC, POS)
    assert_same(lambda a, b: np_lib.stack(a, b), lambda a, b: torch.stack([a, b], -1), VEC, POS)
    idx = np.array([0, 3, 3, 1, 0])
    assert_same(lambda v: np_lib.gather(v, 1, 0, idx), lambda v: v[torch.from_numpy(idx)], VEC)
    assert_same(lambda a, b: np_lib.where(VEC > 0, a, b), lambda a, b: torch.where(torch.from_numpy(VEC > 0), a, b),
                POS, VEC)  # fmt: skip
    assert_same(np_lib.log_sum_exp, torch.logaddexp, VEC, POS)
    assert_same(lambda t, a, b: np_lib.log_mix(t, a, b),
                lambda t, a, b: torch.logaddexp(torch.log(t) + a, torch.log1p(-t) + b), POS / 3, VEC, POS)  # fmt: skip
    assert_same(lambda a, b: npad.xlogy(a, b), torch.xlogy, POS, POS + 1)
    assert_same(npad.cumsum, lambda m: torch.cumsum(m, -1), MAT)


DENSITIES = [
    ("Normal", (VEC, 0.5, POS)), ("Cauchy", (VEC, VEC[::-1], POS)), ("HalfNormal", (POS, POS[::-1])),
    ("HalfCauchy", (POS, 2.0)), ("StudentT", (VEC, POS + 2, VEC[::-1], POS)), ("LogNormal", (POS, VEC, POS)),
    ("Exponential", (POS, POS[::-1])), ("Gamma", (POS, POS + 1, POS[::-1])),
]  # fmt: skip


@pytest.mark.parametrize("name, args", DENSITIES, ids=[d[0] for d in DENSITIES])
def test_closed_form_densities_match_zl_lpdf_with_gradients(name, args):
    assert_same(getattr(np_lib.lpdf, name), getattr(torch_lpdf, name), *args)


LOG_PROBS = [
    ("Beta", (POS / 3, POS, POS[::-1])), ("Laplace", (VEC, VEC[::-1], POS)), ("InverseGamma", (POS, POS + 1, POS)),
    ("Uniform", (POS, POS * 0 + 0.1, POS + 3)), ("Normal", (VEC, VEC[::-1], POS)), ("Gamma", (POS, POS, POS)),
]  # fmt: skip


@pytest.mark.parametrize("name, args", LOG_PROBS, ids=[d[0] for d in LOG_PROBS])
def test_log_prob_of_distribution_factories_matches_zl_dist(name, args):
    from zsdsl.runtime.lib import dist as torch_dist

    assert_same(lambda v, *p: np_lib.log_prob(getattr(np_lib.dist, name)(*p), v),
                lambda v, *p: torch_dist.log_prob(getattr(torch_dist, name)(*p), v), *args)  # fmt: skip


def test_discrete_likelihoods_match_zl_lpdf_in_their_parameters():
    y = np.array([0.0, 1.0, 1.0, 0.0])
    assert_same(lambda lg: np_lib.lpdf.Bernoulli(y, logits=lg),
                lambda lg: torch_lpdf.Bernoulli(torch.from_numpy(y), logits=lg), VEC * 30)  # fmt: skip
    counts = np.array([0.0, 3.0, 1.0, 7.0])
    assert_same(lambda lr: np_lib.lpdf.Poisson(counts, log_rate=lr),
                lambda lr: torch_lpdf.Poisson(torch.from_numpy(counts), log_rate=lr), VEC)  # fmt: skip
    assert_same(lambda r: np_lib.lpdf.Poisson(counts, rate=r),
                lambda r: torch_lpdf.Poisson(torch.from_numpy(counts), rate=r), POS)  # fmt: skip


def test_what_the_library_lacks_is_unsupported():
    with pytest.raises(Unsupported, match="cholesky"):
        _ = np_lib.cholesky
    with pytest.raises(Unsupported, match="Dirichlet"):
        _ = np_lib.dist.Dirichlet
    with pytest.raises(Unsupported, match="minibatches"):
        np_lib.plate_indices({"n": np.arange(3)}, "n")


def _potential(spec: Path, data_path: Path) -> Potential:
    cm = zsdsl.load(spec)
    data = cm.prepare_data(load_data(data_path))
    return Potential(cm.model(data), data)


def _pdb(name: str):
    data = PDB / name / "data.json"
    return ROOT / "specs" / "posteriordb" / f"{name}.zs", data if data.exists() else PDB / name / "data.json.gz"


SCHOOLS = ROOT / "specs" / "data" / "eight_schools.json"
CASES = [
    ("eight_schools_noncentered", ROOT / "specs" / "eight_schools_noncentered.zs", SCHOOLS, "numpy"),
    ("eight_schools_centered", ROOT / "specs" / "eight_schools_centered.zs", SCHOOLS, "numpy"),
    ("radon", *_pdb("radon_mn-radon_hierarchical_intercept_noncentered"), "numpy"),
    ("kidiq_interaction", *_pdb("kidiq-kidscore_interaction"), "numpy"),
    ("earnings", *_pdb("earnings-logearn_height"), "numpy"),
    ("arK", *_pdb("arK-arK"), "numpy"),
    ("diamonds", *_pdb("diamonds-diamonds"), "numpy"),  # transformed data computed by PyTorch
    ("low_dim_gauss_mix", *_pdb("low_dim_gauss_mix-low_dim_gauss_mix"), "numpy"),  # ordered
    ("gp_pois_regr", *_pdb("gp_pois_regr-gp_pois_regr"), "torch"),  # cholesky: PyTorch
    ("garch11", *_pdb("garch-garch11"), "numpy"),  # recurrence: on the emitted path (not in the NumPy library)
]  # fmt: skip


@pytest.mark.parametrize("name, spec, data, backend", CASES, ids=[c[0] for c in CASES])
def test_models_take_the_numpy_path_where_covered_and_agree_with_torch(name, spec, data, backend):
    if not data.exists():
        pytest.skip(f"{data} not found")
    pot = _potential(spec, data)
    assert pot.backend == backend
    if backend != "numpy":
        return
    z_rng = np.random.default_rng(11)
    for _ in range(4):
        z = z_rng.normal(0, 1.0, pot.dim)
        U_n, g_n = pot.value_and_grad_np(z)
        U_t, g_t = pot._torch_value_and_grad(z)
        assert U_n == pytest.approx(U_t, rel=1e-11)
        np.testing.assert_allclose(g_n, g_t, rtol=1e-8, atol=1e-10 * max(1.0, abs(U_t)))


def test_the_environment_switch_keeps_torch(monkeypatch):
    monkeypatch.setenv("ZSDSL_NUMPY_POTENTIAL", "0")
    pot = _potential(ROOT / "specs" / "eight_schools_noncentered.zs", ROOT / "specs/data/eight_schools.json")
    assert pot.backend == "torch"


def test_a_disagreeing_numpy_library_is_not_used(monkeypatch):
    pot = _potential(ROOT / "specs" / "eight_schools_noncentered.zs", ROOT / "specs/data/eight_schools.json")
    monkeypatch.setattr(np_lib.lpdf, "Normal", lambda v, loc, scale: np_lib.lpdf.Cauchy(v, loc, scale))
    with pytest.warns(UserWarning, match="disagrees with PyTorch"):
        assert NumpyPotential.build(pot) is None

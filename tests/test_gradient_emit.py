"""The emitted gradient path (``zsdsl.compiler.gradient``): the density table against PyTorch, every
spec without networks on the path (or refused with its reason), value and gradient against PyTorch
autograd to 1e-10 on real data, IEEE results where Python's math would raise, and the CLI."""

from __future__ import annotations

import glob
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import zsdsl
from zsdsl.cli import main
from zsdsl.compiler.gradient import densities
from zsdsl.runtime.data import load_data
from zsdsl.runtime.lib import dist as zdist
from zsdsl.runtime.lib import lpdf as zlpdf
from zsdsl.runtime.mcmc.emitted_potential import HOW, HOW_JIT, EmittedPotential
from zsdsl.runtime.mcmc.potential import Potential

ROOT = Path(__file__).resolve().parents[1]
PDB = ROOT.parent / "shared" / "data" / "posteriordb"
SCHOOLS = ROOT / "specs" / "data" / "eight_schools.json"


class TorchMath:
    """The table's maths namespace over tensors: the same formulas, evaluated by PyTorch."""

    @staticmethod
    def _t(x):
        return x if torch.is_tensor(x) else torch.tensor(float(x), dtype=torch.float64)

    def log(self, x):
        return torch.log(self._t(x))

    def log1p(self, x):
        return torch.log1p(self._t(x))

    def exp(self, x):
        return torch.exp(self._t(x))

    def lgamma(self, x):
        return torch.lgamma(self._t(x))

    def softplus(self, x):
        return torch.nn.functional.softplus(self._t(x))

    def xlogy(self, a, y):
        return torch.xlogy(self._t(a), self._t(y))

    def abs(self, x):
        return torch.abs(self._t(x))

    def within(self, x, low, high, lp):
        x = self._t(x)
        return torch.where((x >= self._t(low)) & (x <= self._t(high)), self._t(lp), -math.inf)

    def trisolve(self, L, x):
        return torch.linalg.solve_triangular(L, x.unsqueeze(-1), upper=False).squeeze(-1)

    def diag(self, L):
        return torch.diagonal(L, dim1=-2, dim2=-1)

    def total(self, x):
        return self._t(x).sum()

    def length(self, x):
        return x.shape[-1]

    def nonneg(self, x, lp):
        return torch.where(self._t(x) >= 0, self._t(lp), -math.inf)


def _points(name: str, rng):
    """A value and arguments inside the support of each distribution."""
    pos = lambda: torch.tensor(rng.uniform(0.3, 3.0, 6))  # noqa: E731
    real = lambda: torch.tensor(rng.normal(0, 2, 6))  # noqa: E731
    unit = torch.tensor(rng.uniform(0.05, 0.95, 6))
    counts = torch.tensor(rng.integers(0, 8, 6), dtype=torch.float64)
    flips = torch.tensor(rng.integers(0, 2, 6), dtype=torch.float64)
    table = {
        "Normal": (real(), {"loc": real(), "scale": pos()}),
        "HalfNormal": (pos(), {"scale": pos()}),
        "Cauchy": (real(), {"loc": real(), "scale": pos()}),
        "HalfCauchy": (pos(), {"scale": pos()}),
        "StudentT": (real(), {"df": pos() + 1, "loc": real(), "scale": pos()}),
        "LogNormal": (pos(), {"loc": real(), "scale": pos()}),
        "Exponential": (pos(), {"rate": pos()}),
        "Gamma": (pos(), {"concentration": pos(), "rate": pos()}),
        "InverseGamma": (pos(), {"concentration": pos(), "scale": pos()}),
        "Beta": (unit, {"concentration1": pos(), "concentration0": pos()}),
        "Bernoulli": (flips, {"logits": real(), "probs": unit}),
        "Laplace": (real(), {"loc": real(), "scale": pos()}),
        "Uniform": (unit, {"low": unit * 0.5, "high": unit + 0.5}),
        "Poisson": (counts, {"log_rate": real(), "rate": pos()}),
        "Flat": (real(), {}),
        "Dirichlet": (torch.softmax(real(), -1), {"concentration": pos()}),
        "MultivariateNormal": (
            real(),
            {"loc": real(), "scale_tril": torch.tril(torch.tensor(rng.normal(0, 0.3, (6, 6)))) + torch.diag(pos())},
        ),
    }
    return table[name]


@pytest.mark.parametrize("key", sorted(densities.DENSITIES, key=lambda k: (k[0], sorted(k[1]))),
                         ids=lambda k: f"{k[0]}({','.join(sorted(k[1]))})")  # fmt: skip
def test_each_table_formula_is_pytorchs_density(key):
    name, args = key
    rng = np.random.default_rng(3)
    x, pool = _points(name, rng)
    params = {k: pool[k] for k in args}
    mine = densities.DENSITIES[key](TorchMath(), x, **params)
    if name == "Flat":
        assert mine == 0.0
        return
    if hasattr(zlpdf, name) and name not in ("Bernoulli", "Poisson", "MultivariateNormal"):
        theirs = getattr(zlpdf, name)(x, **params)
    else:
        theirs = getattr(zdist, name)(**params).log_prob(x)
    torch.testing.assert_close(mine, theirs, rtol=1e-12, atol=1e-12)


def _non_net_specs():
    out = []
    for f in sorted(glob.glob(str(ROOT / "specs" / "*.zs")) + glob.glob(str(ROOT / "specs" / "posteriordb" / "*.zs"))):
        text = Path(f).read_text()
        if "net " in text or "guide " in text or "nets:" in text:
            continue
        out.append(Path(f))
    return out


NO_KERNEL = {  # the specs whose emitted code numba does not compile, and the reason the NumPy path stays
    "arma11": "the model has a scan", "local_level": "the model has a scan",
    "bball_drive_event_0-hmm_drive_0": "the model has hmm_marginal", "garch-garch11": "the model has recurrence",
    "hudson_lynx_hare-lotka_volterra": "the model has an ODE solution",
}  # fmt: skip
REFUSED = {  # the specs the emitted path does not cover yet, and the reason it gives
    "gmm_enum": "the discrete latent",
    "gp_ard": "the function 'ard_kernel' (in 'K', gp_ard.zs:15:1)",
    "lda": "Dirichlet of a batch of vectors (in 'phi', lda.zs:14:3)",
}


@pytest.mark.parametrize("spec", _non_net_specs(), ids=lambda p: p.stem)
def test_every_spec_without_networks_is_emitted_or_says_why(spec):
    gradient = zsdsl.load(spec).gradient
    if spec.stem in REFUSED:
        assert gradient.source is None
        assert gradient.reason.startswith("the emitted gradient has no rule for ")
        assert REFUSED[spec.stem] in gradient.reason
    else:
        assert gradient.source is not None, gradient.reason
        assert "def make(data, d):" in gradient.source


def _synthetic(stem: str):
    """Small data for the library specs that ship none (fixed seed)."""
    rng = np.random.default_rng(0)
    if stem == "logistic_regression":
        X = rng.normal(size=(40, 3))
        return {"N": 40, "D": 3, "X": X.tolist(), "y": (X @ [1.0, -0.5, 0.2] > 0).astype(int).tolist()}
    if stem == "pmf":
        return {"U": 5, "I": 4, "user": [0, 1, 4, 4, 2, 3], "item": [0, 3, 1, 1, 2, 0], "rating": [1.0, 2, 3, 4, 5, 3]}
    if stem == "gp_regression":
        x = np.linspace(0, 5, 12)
        return {"N": 12, "x": x.tolist(), "y": (np.sin(x) + 0.1 * rng.normal(size=12)).tolist()}
    if stem == "gmm":
        return {"N": 30, "y": np.concatenate([rng.normal(-2, 1, 15), rng.normal(2, 1, 15)]).tolist()}
    return None


def _data_for(spec: Path):
    if spec.stem == "blr":
        return ROOT / "specs" / "data" / "regression.json"
    if (ROOT / "specs" / "data" / f"{spec.stem}.json").exists():  # arma11, local_level
        return ROOT / "specs" / "data" / f"{spec.stem}.json"
    if _synthetic(spec.stem) is not None:
        return _synthetic(spec.stem)
    if spec.stem == "gp_pois_regr":  # the library's form of the posteriordb model
        spec = spec.parent / "posteriordb" / "gp_pois_regr-gp_pois_regr.zs"
    if spec.parent.name == "posteriordb":
        for name in ("data.json", "data.json.gz"):
            if (PDB / spec.stem / name).exists():
                return PDB / spec.stem / name
        return None
    return SCHOOLS if spec.stem.startswith("eight_schools") else None


@pytest.mark.parametrize("spec", [s for s in _non_net_specs() if s.stem not in REFUSED], ids=lambda p: p.stem)
def test_emitted_value_and_gradient_match_autograd_to_1e10(spec):
    source = _data_for(spec)
    if source is None or isinstance(source, Path) and not source.exists():
        pytest.skip(f"no data for {spec.stem} here")
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.load(spec)
    data = cm.prepare_data(load_data(source) if isinstance(source, Path) else source)
    pot = Potential(cm.model(data), data)
    emitted, why = EmittedPotential.build_with_reason(pot)
    assert emitted is not None, why
    if spec.stem in NO_KERNEL:  # the NumPy code, saying why numba does not run it
        assert why.startswith(HOW + "; not compiled by numba: " + NO_KERNEL[spec.stem])
        assert pot.backend == "numpy"
    else:  # the kernel numba compiled, checked here at five more points
        assert why == HOW_JIT
        assert pot.backend == "numba" and pot.backend_reason == HOW_JIT
    rng = np.random.default_rng(7)
    for _ in range(5):
        z = rng.normal(0, 1, pot.dim)
        U_e, g_e = emitted.value_and_grad(z)
        U_t, g_t = pot._torch_value_and_grad(z)
        assert U_e == pytest.approx(U_t, rel=1e-10, abs=1e-10)
        np.testing.assert_allclose(g_e, g_t, rtol=1e-10, atol=1e-10 * max(1.0, abs(U_t)))


# One small model per construct the emitted path covers: its functions, densities, bijectors, plates,
# gathers and products, each checked against autograd to 1e-10.
CONSTRUCTS = {  # name: (model text, data)
    "unary": (
        "x ~ Normal(0, 1), event=[3]\n"
        "factor sum(exp(x) * 0.1 + log1p(exp(x)) + expm1(x * 0.1) + sqrt(exp(x)) + square(x) + tanh(x))\n"
        "factor sum(sigmoid(x) + softplus(x) + log_sigmoid(x) + sin(x) + cos(x) + erf(x) + abs(x))\n"
        "factor sum(lgamma(exp(x)) + digamma(exp(x)) * 0.1 + logit(sigmoid(x)) * 0.1 + inv_logit(x))\n"
        "factor sum(log10(exp(x)) + log2(exp(x)))\n",
        {},
    ),
    "scalar_unary": (
        "a ~ Normal(0, 1)\nfactor exp(a) * 0.1 + log1p(exp(a)) + sqrt(exp(a)) + tanh(a) + sigmoid(a)"
        " + softplus(a) + log_sigmoid(a) + sin(a) + cos(a) + erf(a) + abs(a) + lgamma(exp(a))\n",
        {},
    ),
    "where_pow": (
        "x ~ Normal(0, 1), event=[3]\na ~ Normal(0, 1)\n"
        "factor sum(where(x > 0, x, -2 * x)) + sum(pow(exp(x), 1.5)) + exp(a) ^ 3 * 0.01\n",
        {},
    ),
    "reductions": ("x ~ Normal(0, 1), event=[4]\nfactor logsumexp(x) + mean(x) + log_sum_exp(x[0], x[1])\n", {}),
    "axis_functions": (
        "x ~ Normal(0, 1), event=[3, 4]\n"
        "factor sum(square(sum(x, dim=0))) + sum(log_sum_exp(x, dim=-1)) + sum(mean(x, dim=1)) + sd(x)\n"
        "factor sum(variance(x, dim=0)) + sum(sd(x, dim=-1)) + sum(softmax(x) * x) + log_sum_exp(x)\n"
        "factor sum(log_softmax(x, dim=0) * 0.1) + sum(cumsum(x, dim=0) * x) + sum(cumsum(x) * 0.5)\n",
        {},
    ),
    "axis_in_a_plate": (
        "data:\n  y: real[N, 2, 3]\nplate n in N:\n  m[n] ~ Normal(0, 1), event=[2, 3]\n"
        "  y[n] ~ Normal(log_softmax(m[n], dim=0) + cumsum(m[n], dim=-1), 1), event=[2, 3]\n"
        "  factor sum(sum(m[n], dim=1)) + variance(m[n]) + sum(logsumexp(m[n], dim=0))\n",
        {"y": np.random.default_rng(0).normal(size=(4, 2, 3)).tolist()},
    ),
    "symbolic_slices": (
        "data:\n  T: int in [2, inf)\n  y: real[T]\nmu ~ Normal(0, 1)\nphi ~ Normal(0, 1)\n"
        "err = y[1:] - mu - phi * y[:T - 1]\nlast = y[-2:]\nc = concat(y[1:], zeros(1)) - mu * y\n"
        "factor -sum(square(err)) - sum(square(y[:-1] * phi)) - sum(square(c)) - sum(last) * mu\n",
        {"T": 5, "y": [0.5, -1.0, 2.0, 0.3, 1.1]},
    ),
    "derived_dims": (
        "data:\n  y: real[T]\ndims:\n  Tm1 = T - 1\nm ~ Normal(0, 1), event=[Tm1]\n"
        "factor -sum(square(m - y[1:])) - sum(square(concat(m, zeros(1)) - y)) + Tm1 * mean(m)\n",
        {"y": [0.5, -1.0, 2.0, 0.3]},
    ),
    "simplex_dirichlet": (
        "data:\n  a: real[4] in (0, inf)\np: simplex[4] ~ Dirichlet(a)\nq: simplex[2] ~ Dirichlet(ones(2))\n"
        "factor 2 * log(p[0]) + sum(p * q[1])\n",
        {"a": [1.5, 2.0, 0.7, 3.0]},
    ),
    "hmm_marginal": (  # N = 7, 2 and 1: odd and even levels of the product tree, and a single step
        "data:\n  y: real[N]\n  y2: real[2]\n  y1: real[1]\nmu: ordered[3] ~ Normal(0, 3)\n"
        "r1: simplex[3] ~ Dirichlet(ones(3))\nr2: simplex[3] ~ Dirichlet(ones(3))\n"
        "r3: simplex[3] ~ Dirichlet(ones(3))\nrho: simplex[3] ~ Dirichlet(ones(3))\n"
        "G = transpose(stack(r1, r2, r3))\n"
        "factor hmm_marginal(transpose(-0.5 * square(stack(y, y, y) - mu)), G, rho)\n"
        "factor hmm_marginal(transpose(-0.5 * square(stack(y2, y2, y2) - mu)), G, rho)\n"
        "factor hmm_marginal(transpose(-0.5 * square(stack(y1, y1, y1) - mu)), G, rho)\n",
        {"y": [0.1, -1.2, 2.0, 0.5, 0.4, -0.3, 1.7], "y2": [0.3, -0.4], "y1": [0.8]},
    ),
    "scan_hmm_forward": (  # a vector carry, a matrix read whole, a z-dependent matrix indexed by the step
        "data:\n  y: real[N]\nmu: ordered[3] ~ Normal(0, 3)\n"
        "r1: simplex[3] ~ Dirichlet(ones(3))\nr2: simplex[3] ~ Dirichlet(ones(3))\n"
        "r3: simplex[3] ~ Dirichlet(ones(3))\nlg = log(stack(r1, r2, r3))\n"
        "lo = transpose(-0.5 * square(stack(y, y, y) - mu))\n"
        "scan t in range(1, N), acc = lo[:, 0]:\n    acc = lo[:, t] + logsumexp(lg + acc, dim=1)\n"
        "factor logsumexp(acc)\n",
        {"y": [0.1, -1.2, 2.0, 0.5, 0.4, -0.3, 1.7]},
    ),
    "scan_two_carries_and_outputs": (  # two carries, a factor per step, an output read in the step and later
        "data:\n  y: real[T]\ns: real in (0, inf) ~ HalfNormal(1)\no: real in (0, inf) ~ HalfNormal(1)\n"
        "m0 ~ Normal(0, 3)\nscan t in range(T), m = m0, p = 1.0:\n    f = p + o ^ 2\n"
        "    factor logpdf(Normal(m, sqrt(f)), y[t])\n    k = p / f\n    lev[t] = m + k * (y[t] - m)\n"
        "    m = lev[t]\n    p = p * (1 - k) + s ^ 2\nfactor -0.1 * sum(square(lev)) - m ^ 2 - p\n",
        {"y": [0.1, -1.2, 2.0, 0.5, 0.4, -0.3, 1.7]},
    ),
    "scan_unused_carry": (  # a carry never read after the loop and an output read only after it
        "data:\n  y: real[T]\nphi ~ Normal(0, 1)\nscan t in range(1, T), last = 0:\n"
        "    last = phi * y[t - 1]\n    e[t] = y[t] - last\nfactor -0.5 * sum(square(e))\n",
        {"y": [0.1, -1.2, 2.0, 0.5]},
    ),
    "gp_kernels": (  # the covariance functions on 1-D data points, Stan's names among them
        "data:\n  x: real[N]\n  y: real[N]\na: real in (0, inf) ~ HalfNormal(1)\nr: real in (0, inf) ~ Gamma(2, 2)\n"
        "p: real in (0, inf) ~ Gamma(4, 2)\nK = matern32_kernel(x, x, a, r) + gp_matern52_cov(x, a, r) + "
        "gp_exponential_cov(x, a, r) + gp_periodic_cov(x, a, r, p) + gp_exp_quad_cov(x, a, r) + 0.1 * eye(N)\n"
        "y ~ MultivariateNormal(zeros(N), scale_tril=cholesky(K))\n",
        {"x": [0.0, 0.4, 1.3, 2.2, 2.3], "y": [0.5, -0.2, 1.0, 0.3, 0.1]},
    ),
    "matrix_products": (  # matrix @ matrix, and Stan's quad_form(A, B) = B'AB and quad_form_diag, built on it
        "data:\n  A: real[3, 3]\nM ~ Normal(0, 1), event=[3, 2]\nx ~ Normal(0, 1), event=[3]\n"
        "factor -0.5 * sum(square(A @ M)) + sum(quad_form(A, M)) - sum(square(quad_form_diag(A, x)))\n",
        {"A": [[1.0, 0.2, 0.0], [0.3, 1.5, -0.4], [0.0, 0.1, 0.7]]},
    ),
    "quadratic_forms": (  # Stan's quad_form of a vector and dot_self, as products
        "data:\n  A: real[3, 3]\n  B: real[3, 2]\nx ~ Normal(0, 1), event=[3]\ns: real in (0, inf) ~ HalfNormal(1)\n"
        "factor -0.5 * quad_form(A + eye(3), x) - dot_self(x) * s + quad_form(A, x * s)\n",
        {"A": [[1.0, 0.2, 0.0], [0.3, 1.5, -0.4], [0.0, 0.1, 0.7]], "B": [[0.5, 1.0], [-0.2, 0.3], [1.1, 0.0]]},
    ),
    "concat_stack": (
        "x ~ Normal(0, 1), event=[3]\na ~ Normal(0, 1)\nb ~ Normal(0, 1)\n"
        "v = concat(x, exp(x))\nw = stack(a, b * 2)\nu = full(3, a)\n"
        "factor -sum(square(v)) - sum(square(w)) - sum(u * x)\n",
        {},
    ),
    "densities": (
        "data:\n  k: int[N] in [0, 1]\n  c: int[N] in [0, inf)\n  y: real[N]\n"
        "p: real in (0, 1) ~ Beta(2, 3)\nr: real in (0, inf) ~ Gamma(2, 2)\ns: real in (0, inf) ~ "
        "InverseGamma(3, 2)\nt: real in (0, inf) ~ Exponential(1)\nm ~ Laplace(0, 2)\n"
        "q: real in (0, 1) ~ Uniform(0, 1)\nh ~ HalfNormal(1)\nhc ~ HalfCauchy(1)\nln ~ LogNormal(0, 1)\n"
        "k ~ Bernoulli(probs=p), event=[N]\nc ~ Poisson(rate=r), event=[N]\n"
        "y ~ StudentT(3, m, s), event=[N]\nfactor logpdf(Normal(q, 1), t) + logpdf(Cauchy(h, hc), ln)\n",
        {"k": [0, 1, 1], "c": [0, 3, 2], "y": [0.5, -1.0, 2.0]},
    ),
    "bijectors": (
        "data:\n  lo: real\nu: ordered[3] ~ Normal(0, 3)\nv: positive_ordered[3] ~ Gamma(2, 1)\n"
        "w: real in (lo, inf) ~ Normal(0, 3)\nz: real in (-inf, 2) ~ Normal(0, 3)\n"
        "i: real[2] in (lo, 3) ~ Normal(0, 3)\n",
        {"lo": -1.0},
    ),
    "nested_plates": (
        "data:\n  y: real[G, M]\nmu ~ Normal(0, 5)\ntau ~ HalfNormal(2)\nb ~ Normal(0, 1), event=[M]\n"
        "plate g in G:\n  a[g] ~ Normal(mu, tau)\n  plate m in M:\n    y[g, m] ~ Normal(a[g] + b[m], 1)\n",
        {"y": [[0.1, 0.2, 0.3], [1.0, 1.5, 0.4]]},
    ),
    "gather_rows": (
        "data:\n  g: int[N] in [0, 2]\n  y: real[N, 2]\nA ~ Normal(0, 1), event=[3, 2]\n"
        "plate n in N:\n  y[n] ~ Normal(A[g[n]], 1), event=[2]\n",
        {"g": [0, 2, 2, 1], "y": [[0.1, 0.2], [0.3, 0.4], [1.0, -1.0], [0.0, 0.5]]},
    ),
    "matvec_vecmat": (
        "data:\n  X: real[N, 2]\n  y: real[N]\nbeta ~ Normal(0, 1), event=[2]\nv ~ Normal(0, 1), event=[N]\n"
        "y ~ Normal(matvec(X, beta), 1), event=[N]\nfactor -sum(square(v @ X))\n",
        {"X": [[1.0, 2.0], [0.5, -1.0], [0.1, 0.3]], "y": [1.0, 0.0, 2.0]},
    ),
}


@pytest.mark.parametrize("name", sorted(CONSTRUCTS))
def test_each_construct_on_the_emitted_path_matches_autograd(name):
    text, data = CONSTRUCTS[name]
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.loads(text, f"{name}.zs")
    assert cm.gradient.source is not None, cm.gradient.reason
    prepared = cm.load_data(data)
    pot = Potential(cm.model(prepared), prepared)
    emitted, why = EmittedPotential.build_with_reason(pot)
    assert emitted is not None, why
    rng = np.random.default_rng(2)
    for _ in range(5):
        z = rng.normal(0, 0.8, pot.dim)
        U_e, g_e = emitted.value_and_grad(z)
        U_t, g_t = pot._torch_value_and_grad(z)
        assert U_e == pytest.approx(U_t, rel=1e-10, abs=1e-10)
        np.testing.assert_allclose(g_e, g_t, rtol=1e-10, atol=1e-10 * max(1.0, abs(U_t)))


def test_a_construct_without_a_rule_is_named_with_its_node():
    cm = zsdsl.loads("x ~ Normal(0, 1), event=[3]\nfactor sum(minimum(x, 0))\n", "m.zs")
    assert cm.gradient.source is None
    assert cm.gradient.reason == (
        "the emitted gradient has no rule for the function 'minimum' (in 'factor_1', m.zs:2:1)"
    )


def test_where_python_math_would_raise_the_point_gets_ieee_values():
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.load(ROOT / "specs" / "eight_schools_noncentered.zs")
    data = cm.prepare_data(load_data(SCHOOLS))
    pot = Potential(cm.model(data), data)
    assert pot.backend == "numba"
    z = np.zeros(pot.dim)
    z[1] = 800.0  # tau = exp(800) overflows a Python float
    U, g = pot.value_and_grad_np(z)
    assert not math.isfinite(U) or not np.isfinite(g).all()


def test_a_wrong_emitted_gradient_is_refused_with_the_reason(monkeypatch):
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.load(ROOT / "specs" / "eight_schools_noncentered.zs")
    data = cm.prepare_data(load_data(SCHOOLS))
    model = cm.model(data)
    program = model.gradient_program
    wrong = type(program)(program.source.replace("gr[0] = -", "gr[0] = 1.0 - "), "", program.sites)
    model.gradient_program = wrong
    emitted, why = EmittedPotential.build_with_reason(Potential(model, data))
    assert emitted is None
    assert why.startswith("the emitted gradient disagreed with PyTorch autograd at a check point (U ")
    assert "dU/dz[0]" in why


def test_compile_emit_gradient_needs_no_data_and_refuses_with_the_reason():
    runner = CliRunner()
    result = runner.invoke(
        main, ["compile", str(ROOT / "specs" / "eight_schools_noncentered.zs"), "--emit", "gradient"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith('"""Generated by zsdsl from eight_schools_noncentered.zs')
    assert "def make(data, d):" in result.output and "SITES = ('mu', 'tau', 'theta_trans')" in result.output
    lda = ROOT / "specs" / "lda.zs"
    result = runner.invoke(main, ["compile", str(lda), "--emit", "gradient"])
    assert result.exit_code == 1
    assert (
        "lda.zs: the emitted gradient has no rule for Dirichlet of a batch of vectors (in 'phi', lda.zs:14:3). "
        "NUTS and HMC differentiate it with PyTorch autograd." in result.output
    )


def test_compile_emit_gradient_checks_the_data_it_is_given(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"J": 2, "y": [1.0], "sigma": [1.0, 2.0]}')
    spec = str(ROOT / "specs" / "eight_schools_noncentered.zs")
    result = CliRunner().invoke(main, ["compile", spec, "--emit", "gradient", "--data", str(bad)])
    assert result.exit_code == 1
    assert "data error: Field 'y' has shape [1] but is declared [J] = [2]." in result.output
    assert "def make" not in result.output  # nothing written for data that does not fit
    result = CliRunner().invoke(main, ["compile", spec, "--emit", "gradient", "--data", str(SCHOOLS)])
    assert result.exit_code == 0 and "def make(data, d):" in result.output
    assert f"On {SCHOOLS}: gradients by numba: the emitted code compiled by numba" in result.output


def test_a_matrix_that_is_not_positive_definite_rejects_the_point():
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.loads(
        "a ~ Normal(0, 1)\nx ~ MultivariateNormal(zeros(2), scale_tril=cholesky(a * eye(2) + 1))\n", "m.zs"
    )
    prepared = cm.load_data({})
    pot = Potential(cm.model(prepared), prepared)
    assert pot.backend == "numba", pot.backend_reason
    U, g = pot.value_and_grad_np(np.array([-3.0, 0.1, 0.2]))  # a + 1 < 0: no Cholesky factor
    assert U == math.inf and not g.any()
    U, g = pot.value_and_grad_np(np.array([0.5, 0.1, 0.2]))
    assert math.isfinite(U) and np.isfinite(g).all()


@pytest.mark.parametrize("jit", ["1", "0"])
def test_an_overflow_in_array_maths_is_a_value_not_a_warning_per_point(jit, monkeypatch):
    import warnings

    monkeypatch.setenv("ZSDSL_JIT", jit)  # numba's kernel, and the NumPy code (with its module's filter)
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.loads("x ~ Normal(0, 1), event=[3]\nfactor -sum(exp(exp(x)))\n", "ovf.zs")
    prepared = cm.load_data({})
    pot = Potential(cm.model(prepared), prepared)
    emitted, why = EmittedPotential.build_with_reason(pot)
    assert emitted is not None, why
    with warnings.catch_warnings(record=True) as seen:
        U, _ = emitted.value_and_grad(np.full(3, 10.0))
    assert U == math.inf  # exp(exp(10)) overflows: -log p is +inf, a divergence for the sampler
    assert not [w for w in seen if issubclass(w.category, RuntimeWarning)]
    assert emitted.jit == (jit == "1")
    if emitted.jit:
        return
    with warnings.catch_warnings(record=True) as seen:
        warnings.resetwarnings()  # the control: without the module's filter the same point warns
        emitted.value_and_grad(np.full(3, 10.0))
    assert [w for w in seen if issubclass(w.category, RuntimeWarning)]


def test_the_logsumexp_helper_equals_scipy_with_infinities():
    from scipy import special

    from zsdsl.compiler.gradient.helpers import logsumexp

    x = np.array([[0.3, -1.2, 4.0], [-np.inf, -np.inf, -np.inf], [-np.inf, 2.0, 1e3]])
    with np.errstate(divide="ignore"):
        for axis in ((1,), (0,), (0, 1)):
            np.testing.assert_allclose(logsumexp(x, axis), special.logsumexp(x, axis=axis), rtol=1e-15)


def test_a_covariance_that_is_not_positive_definite_is_a_rejected_point_on_the_emitted_path():
    torch.set_default_dtype(torch.float64)
    text = ("data:\n  y: real[2]\ns ~ Normal(0, 1)\nK = eye(2) + s * (ones(2, 2) - eye(2))\n"
            "y ~ MultivariateNormal(zeros(2), scale_tril=cholesky(K))\n")  # fmt: skip
    cm = zsdsl.loads(text, "pd.zs")
    data = cm.load_data({"y": [0.3, -0.1]})
    pot = Potential(cm.model(data), data)
    assert pot.backend == "numba"
    U, g = pot.value_and_grad_np(np.array([0.5]))  # |s| < 1: positive definite
    assert np.isfinite(U) and np.isfinite(g).all()
    U, g = pot.value_and_grad_np(np.array([1.5]))  # |s| > 1: not, and Stan rejects the point
    assert U == np.inf and not g.any()

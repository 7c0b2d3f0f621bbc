"""The same workloads in peer libraries, when they are installed (benchmarks/requirements-peers.txt).

Each function imports its peer lazily and returns None when it is missing. Run as a script it
executes one NUTS run in a fresh process, for the cold figures:

    python benchmarks/peers.py numpyro|pymc|nutpie|stan eight_schools_noncentered CHAINS WARMUP DRAWS SEED
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

EIGHT = {"J": 8, "y": [28, 8, -3, 7, -1, 1, 18, 12], "sigma": [15, 10, 16, 11, 9, 11, 10, 18]}


def available(name: str) -> bool:
    try:
        __import__(name)
        return True
    except ImportError:
        return False


def _min_ess(draws: dict) -> float:
    """Min bulk ESS over every scalar of ``draws`` (name -> [chains, draws, ...])."""
    from zsdsl.runtime.mcmc.output import summarize

    cols = {}
    for name, arr in draws.items():
        arr = np.asarray(arr, dtype=np.float64)
        flat = arr.reshape(arr.shape[0], arr.shape[1], -1)
        for i in range(flat.shape[-1]):
            cols[f"{name}[{i}]"] = flat[..., i]
    return min(row["ess_bulk"] for row in summarize(cols).values())


def _logreg_data():
    from gradient import synthetic_logreg

    d = synthetic_logreg()
    return np.asarray(d["X"]), np.asarray(d["y"])


def numpyro_nuts(model: str, chains: int, warmup: int, draws: int, seed: int) -> dict:
    """NumPyro NUTS with vectorized chains; wall time of ``mcmc.run`` (JIT included on a first call)."""
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    jax.config.update("jax_enable_x64", True)
    if model == "eight_schools_noncentered":
        y, sigma = jnp.array(EIGHT["y"], dtype=float), jnp.array(EIGHT["sigma"], dtype=float)

        def fn():
            mu = numpyro.sample("mu", dist.Normal(0, 5))
            tau = numpyro.sample("tau", dist.HalfCauchy(5))
            with numpyro.plate("J", 8):
                theta_trans = numpyro.sample("theta_trans", dist.Normal(0, 1))
                theta = numpyro.deterministic("theta", mu + tau * theta_trans)
                numpyro.sample("y", dist.Normal(theta, sigma), obs=y)
    else:
        X, yv = _logreg_data()
        X, yv = jnp.array(X), jnp.array(yv, dtype=float)

        def fn():
            w = numpyro.sample("w", dist.Normal(0, 1).expand([X.shape[1]]).to_event(1))
            b = numpyro.sample("b", dist.Normal(0, 1))
            with numpyro.plate("N", X.shape[0]):
                numpyro.sample("y", dist.Bernoulli(logits=X @ w + b), obs=yv)

    mcmc = MCMC(NUTS(fn), num_warmup=warmup, num_samples=draws, num_chains=chains, chain_method="vectorized",
                progress_bar=False)  # fmt: skip
    t0 = time.perf_counter()
    mcmc.run(jax.random.PRNGKey(seed))
    samples = mcmc.get_samples(group_by_chain=True)
    jax.block_until_ready(samples)
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "min_ess_bulk": _min_ess({k: np.asarray(v) for k, v in samples.items()})}


def _pymc_model(model: str):
    import pymc as pm

    with pm.Model() as m:
        if model == "eight_schools_noncentered":
            y, sigma = np.array(EIGHT["y"], dtype=float), np.array(EIGHT["sigma"], dtype=float)
            mu = pm.Normal("mu", 0, 5)
            tau = pm.HalfCauchy("tau", 5)
            theta_trans = pm.Normal("theta_trans", 0, 1, shape=8)
            theta = pm.Deterministic("theta", mu + tau * theta_trans)
            pm.Normal("y", theta, sigma, observed=y)
        else:
            X, yv = _logreg_data()
            w = pm.Normal("w", 0, 1, shape=X.shape[1])
            b = pm.Normal("b", 0, 1)
            pm.Bernoulli("y", logit_p=pm.math.dot(X, w) + b, observed=yv)
    return m


def pymc_compiled(model: str, sampler: str):
    """What ``pymc_nuts`` reuses for warm runs: nutpie's compiled model, or the PyMC model."""
    if sampler == "nutpie":
        import nutpie

        return nutpie.compile_pymc_model(_pymc_model(model))
    return _pymc_model(model)


def pymc_nuts(model: str, chains: int, warmup: int, draws: int, seed: int, sampler: str = "pymc",
              compiled=None) -> dict:  # fmt: skip
    """PyMC's NUTS (``sampler="pymc"``, chains in processes) or nutpie (numba-compiled log density,
    Rust sampler). The wall time includes building and compiling the model unless ``compiled``
    (a nutpie compiled model, or a PyMC model) is given."""
    import pymc as pm

    t0 = time.perf_counter()
    if sampler == "nutpie":
        import nutpie

        compiled = compiled or nutpie.compile_pymc_model(_pymc_model(model))
        idata = nutpie.sample(compiled, draws=draws, tune=warmup, chains=chains, seed=seed, progress_bar=False,
                              cores=min(chains, 2))  # fmt: skip
    else:
        with compiled or _pymc_model(model):
            idata = pm.sample(draws=draws, tune=warmup, chains=chains, cores=min(chains, 2), random_seed=seed,
                              progressbar=False, compute_convergence_checks=False)  # fmt: skip
    wall = time.perf_counter() - t0
    post = idata.posterior
    return {"wall_s": wall, "min_ess_bulk": _min_ess({k: post[k].values for k in post.data_vars})}


STAN = {
    "eight_schools_noncentered": """
data { int<lower=0> J; array[J] real y; array[J] real<lower=0> sigma; }
parameters { real mu; real<lower=0> tau; vector[J] theta_trans; }
transformed parameters { vector[J] theta = mu + tau * theta_trans; }
model { mu ~ normal(0, 5); tau ~ cauchy(0, 5); theta_trans ~ normal(0, 1); y ~ normal(theta, sigma); }
""",
    "logreg": """
data { int<lower=0> N; int<lower=0> D; matrix[N, D] X; array[N] int<lower=0, upper=1> y; }
parameters { vector[D] w; real b; }
model { w ~ normal(0, 1); b ~ normal(0, 1); y ~ bernoulli_logit(X * w + b); }
""",
}


def _stan_data(model: str) -> dict:
    if model == "eight_schools_noncentered":
        return dict(EIGHT)
    X, yv = _logreg_data()
    return {"N": X.shape[0], "D": X.shape[1], "X": X.tolist(), "y": [int(v) for v in yv]}


def stan_nuts(model: str, chains: int, warmup: int, draws: int, seed: int) -> dict:
    """PyStan 3 (CmdStan's C++ NUTS through httpstan); wall time of build (C++ compilation on a
    first build, cached by httpstan after) and sampling."""
    import arviz as az
    import stan

    t0 = time.perf_counter()
    posterior = stan.build(STAN[model], data=_stan_data(model), random_seed=seed)
    fit = posterior.sample(num_chains=chains, num_samples=draws, num_warmup=warmup)
    wall = time.perf_counter() - t0
    post = az.from_pystan(posterior=fit).posterior
    return {"wall_s": wall, "min_ess_bulk": _min_ess({k: post[k].values for k in post.data_vars})}


def pyro_vae_stepper(x, k: int = 1):
    """One Pyro ``Trace_ELBO`` SVI step of the same VAE (784-500-500-40, batch 128, Adam 1e-3)."""
    import pyro
    import pyro.distributions as dist
    import torch
    from pyro.infer import SVI, Trace_ELBO
    from pyro.optim import Adam
    from torch import nn

    def mlp(sizes):
        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    pyro.clear_param_store()
    enc, dec = mlp([784, 500, 500, 80]), mlp([40, 500, 500, 784])
    N, B = x.shape[0], 128

    def model(xb, idx):
        pyro.module("decoder", dec)
        with pyro.plate("n", N, subsample=idx):
            z = pyro.sample("z", dist.Normal(torch.zeros(B, 40), 1.0).to_event(1))
            pyro.sample("x", dist.Bernoulli(logits=dec(z)).to_event(1), obs=xb)

    def guide(xb, idx):
        pyro.module("encoder", enc)
        with pyro.plate("n", N, subsample=idx):
            h = enc(xb)
            pyro.sample("z", dist.Normal(h[:, :40], nn.functional.softplus(h[:, 40:])).to_event(1))

    svi = SVI(model, guide, Adam({"lr": 1e-3}), Trace_ELBO(num_particles=k, vectorize_particles=k > 1))
    gen = torch.Generator().manual_seed(0)

    def step():
        idx = torch.randperm(N, generator=gen)[:B]
        return svi.step(x.index_select(0, idx), idx)

    return step


if __name__ == "__main__":
    peer, model, chains, warmup, draws, seed = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7])
    if peer == "numpyro":
        print(json.dumps(numpyro_nuts(model, chains, warmup, draws, seed)))
    elif peer == "stan":
        print(json.dumps(stan_nuts(model, chains, warmup, draws, seed)))
    elif peer in ("pymc", "nutpie"):
        print(json.dumps(pymc_nuts(model, chains, warmup, draws, seed, sampler=peer)))
    else:
        raise SystemExit(f"unknown peer {peer}")

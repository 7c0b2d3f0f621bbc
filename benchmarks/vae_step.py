"""One SGVB (or IWAE) training step of the VAE specs, compiled by zsdsl vs the same maths in plain PyTorch.

A step is: draw a minibatch of 128 rows, encoder, reparameterised draw, decoder, Bernoulli
likelihood, the bound scaled by N/B, backward, Adam update, and reading the bound as a float.
Both sides run in this process, interleaved (A, B, A, B, ..., the order rotating each round), and
each figure is the median over rounds of the mean step time in a round. Prints one JSON object:

    python benchmarks/vae_step.py            # vae sgvb, vae iwae k=50, conv_vae sgvb
    python benchmarks/vae_step.py --quick    # a few steps each (CI)
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402
from _common import ROOT, machine  # noqa: E402

import zsdsl  # noqa: E402
from zsdsl.runtime.tuning import tune_allocator  # noqa: E402
from zsdsl.runtime.vi.guides import make_guide  # noqa: E402
from zsdsl.runtime.vi.objectives import make_objective  # noqa: E402
from zsdsl.runtime.vi.train import MinibatchSampler, training_step, unique_params  # noqa: E402

LOG_2PI = math.log(2 * math.pi)


def zsdsl_stepper(spec: str, x: torch.Tensor, infer: str, k: int):
    cm = zsdsl.load(ROOT / "specs" / f"{spec}.zs")
    data = cm.prepare_data({"x": x})
    model = cm.model(data)
    guide = make_guide(cm, model, data, "q")
    objective = make_objective(infer, k)
    objective.bind(model.sites(data), guide)
    params = unique_params(model, guide)
    opt = torch.optim.Adam(params, lr=1e-3)
    sampler = MinibatchSampler(model.plate_sizes(), model.plate_subsample, seed=0)

    def step():
        return float(training_step(objective, model, guide, data, sampler.next(), opt, params))

    return step


def _mlp(sizes):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _conv_nets(z_dim):
    enc = nn.Sequential(
        nn.Unflatten(1, (1, 28, 28)),
        nn.Conv2d(1, 32, 4, 2, 1),
        nn.ReLU(),
        nn.Conv2d(32, 64, 4, 2, 1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(3136, 2 * z_dim),
    )
    dec = nn.Sequential(nn.Linear(z_dim, 3136), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
                        nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(32, 1, 4, 2, 1),
                        nn.Flatten())  # fmt: skip
    return enc, dec


def shuffled_batches(x: torch.Tensor, size: int):
    """A function giving the next minibatch of ``size`` rows of ``x``, reshuffled after each pass."""
    N = x.shape[0]
    gen = torch.Generator().manual_seed(0)
    state = {"perm": torch.randperm(N, generator=gen), "pos": 0}

    def batch():
        if state["pos"] + size > N:
            state["perm"], state["pos"] = torch.randperm(N, generator=gen), 0
        idx = state["perm"][state["pos"] : state["pos"] + size]
        state["pos"] += size
        return x.index_select(0, idx)

    return batch


def torch_stepper(spec: str, x: torch.Tensor, infer: str, k: int):
    """The hand-written model: what a PyTorch user would write for the same bound."""
    if spec == "vae":
        z_dim = 40
        enc, dec = _mlp([784, 500, 500, 2 * z_dim]), _mlp([z_dim, 500, 500, 784])
    else:
        z_dim = 32
        enc, dec = _conv_nets(z_dim)
    params = list(enc.parameters()) + list(dec.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    N, B = x.shape[0], 128
    batch = shuffled_batches(x, B)

    def step():
        xb = batch()
        h = enc(xb)
        mu, sd = h[:, :z_dim], F.softplus(h[:, z_dim:])
        eps = torch.randn((k, B, z_dim))
        z = mu + sd * eps  # [k, B, z]
        log_q = (-0.5 * eps.pow(2) - sd.log() - 0.5 * LOG_2PI).sum(-1)
        log_pz = (-0.5 * z.pow(2) - 0.5 * LOG_2PI).sum(-1)
        logits = dec(z.reshape(k * B, z_dim)).reshape(k, B, 784)
        log_px = -F.binary_cross_entropy_with_logits(logits, xb.expand(k, B, 784), reduction="none").sum(-1)
        lw = log_px + log_pz - log_q  # [k, B]
        if infer == "iwae":
            bound = (torch.logsumexp(lw, 0) - math.log(k)).sum() * (N / B)
        else:
            bound = lw.mean(0).sum() * (N / B)
        opt.zero_grad(set_to_none=True)
        (-bound).backward()
        opt.step()
        return float(bound.detach())

    return step


def time_pair(steps: dict, rounds: int, per_round: int, warmup: int) -> dict:
    for fn in steps.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in steps}
    names = list(steps)
    for r in range(rounds):  # the order rotates each round, so no stepper always follows the same one
        for name in names[r % len(names) :] + names[: r % len(names)]:
            fn = steps[name]
            t0 = time.perf_counter()
            for _ in range(per_round):
                fn()
            times[name].append((time.perf_counter() - t0) / per_round * 1e3)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--per-round", type=int, default=30)
    ap.add_argument("--n", type=int, default=5000, help="rows of synthetic binary data")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-tuning", action="store_true", help="leave glibc's allocator at its defaults")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.per_round, args.n = 2, 2, 512
    tuned = tune_allocator() if not args.no_tuning else False  # what `zsdsl fit` does first
    torch.manual_seed(0)
    x = (torch.rand(args.n, 784) < 0.3).float()
    cases = [("vae", "sgvb", 1), ("vae", "iwae", 50), ("conv_vae", "sgvb", 1)]
    results = []
    for spec, infer, k in cases:
        torch.manual_seed(0)
        steps = {"zsdsl": zsdsl_stepper(spec, x, infer, k), "torch": torch_stepper(spec, x, infer, k)}
        if spec == "vae" and infer == "sgvb" and peers.available("pyro"):
            steps["pyro"] = peers.pyro_vae_stepper(x)
        t = time_pair(steps, args.rounds, args.per_round, warmup=2 if args.quick else 10)
        row = {
            "spec": spec,
            "infer": infer,
            "particles": k,
            "zsdsl_ms": round(t["zsdsl"], 3),
            "torch_ms": round(t["torch"], 3),
            "ratio": round(t["zsdsl"] / t["torch"], 3),
        }
        if "pyro" in t:
            row.update(pyro_ms=round(t["pyro"], 3), pyro_ratio=round(t["pyro"] / t["torch"], 3))
        results.append(row)
    head = results[0]
    print(json.dumps({"benchmark": "vae_step", "machine": machine(), "batch": 128, "rounds": args.rounds,
                      "steps_per_round": args.per_round, "allocator_tuned": tuned,
                      "zsdsl_ms": head["zsdsl_ms"], "torch_ms": head["torch_ms"],
                      "ratio": head["ratio"], "results": results, "peers": _peers()}))  # fmt: skip


def _peers() -> dict:
    if not peers.available("pyro"):
        return {"pyro": "skipped: not installed (pip install -r benchmarks/requirements-peers.txt)"}
    return {"pyro": "measured: Trace_ELBO step of the VAE (pyro_ms, pyro_ratio)"}


if __name__ == "__main__":
    main()

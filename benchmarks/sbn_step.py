"""One training step of the sigmoid belief net `specs/sbn.zs` (3 x 200 Bernoulli units) with the
score-function objectives, compiled by zsdsl vs the same maths written by hand in PyTorch.

A step is: draw a minibatch of 24 rows, k guide draws layer by layer, the model's Bernoulli
log-densities, the estimator's surrogate (nvil: per-layer downstream signals, each centred and
scaled by its moving average, as zsdsl's default; vimco: leave-one-out baselines), backward, Adam,
and reading the bound as a float. Interleaved rounds in one process as in `vae_step.py`; prints
one JSON object:

    python benchmarks/sbn_step.py            # nvil k=1, vimco k=50
    python benchmarks/sbn_step.py --quick    # a few steps each (CI)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402
from vae_step import shuffled_batches, time_pair, zsdsl_stepper  # noqa: E402

from zsdsl.runtime.tuning import tune_allocator  # noqa: E402

B, H = 24, 200


def _bernoulli(logits, value):
    """log Bernoulli(value | logits), summed over the last dim."""
    return -F.binary_cross_entropy_with_logits(logits, value, reduction="none").sum(-1)


def torch_stepper(x: torch.Tensor, infer: str, k: int):
    """The hand-written SBN: what a PyTorch user would write for the same estimator."""
    top = nn.Parameter(torch.zeros(H))
    p2, p1, px = nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, 784)
    q1, q2, q3 = nn.Linear(784, H), nn.Linear(H, H), nn.Linear(H, H)
    params = [top, *(p for m in (p2, p1, px, q1, q2, q3) for p in m.parameters())]
    opt = torch.optim.Adam(params, lr=1e-3)
    N = x.shape[0]
    batch = shuffled_batches(x, B)
    state = {"mean": None, "var": None}  # nvil's moving averages

    def step():
        xb = batch()
        lq1 = q1(xb)
        h1 = torch.bernoulli(torch.sigmoid(lq1).detach().expand(k, B, H))
        lq2 = q2(h1)
        h2 = torch.bernoulli(torch.sigmoid(lq2).detach())
        lq3 = q3(h2)
        h3 = torch.bernoulli(torch.sigmoid(lq3).detach())
        log_q = [_bernoulli(lq1.expand(k, B, H), h1), _bernoulli(lq2, h2), _bernoulli(lq3, h3)]  # [k, B] each
        log_p = [_bernoulli(top.expand(k, B, H), h3), _bernoulli(p2(h3), h2), _bernoulli(p1(h2), h1),
                 _bernoulli(px(h1), xb.expand(k, B, 784))]  # fmt: skip
        scale = N / B
        lw = sum(log_p) - sum(log_q)  # [k, B]
        if infer == "vimco":
            bound = (torch.logsumexp(lw, 0) - math.log(k)).sum()
            d = lw.detach()
            others = (d.sum(0, keepdim=True) - d) / (k - 1)
            loo = torch.logsumexp(torch.where(torch.eye(k, dtype=torch.bool).unsqueeze(-1), others.unsqueeze(1),
                                              d.unsqueeze(0)), 1) - math.log(k)  # fmt: skip
            signal = (torch.logsumexp(d, 0) - math.log(k)).unsqueeze(0) - loo
            surrogate = bound + (signal * sum(log_q)).sum()
        else:  # nvil: layer i's signal is the terms downstream of h_i
            bound = lw.sum(-1).mean()
            lp3, lp2, lp1, lpx = (t.detach() for t in log_p)
            lq_1, lq_2, lq_3 = (t.detach() for t in log_q)
            down3 = lp3 + lp2 - lq_3
            down2 = down3 + lp1 - lq_2
            signals = torch.stack([down2 + lpx - lq_1, down2, down3])  # [3, k, B]
            if state["mean"] is None:
                state["mean"] = signals.mean((1, 2), keepdim=True)
                state["var"] = signals.var((1, 2), unbiased=False, keepdim=True) + 1
            centred = (signals - state["mean"]) / state["var"].sqrt().clamp(min=1.0)
            surrogate = bound + (centred * torch.stack(log_q)).sum(-1).mean(-1).sum()
            state["mean"] = 0.8 * state["mean"] + 0.2 * signals.mean((1, 2), keepdim=True)
            state["var"] = 0.8 * state["var"] + 0.2 * (signals - state["mean"]).pow(2).mean((1, 2), keepdim=True)
        opt.zero_grad(set_to_none=True)
        (-surrogate * scale).backward()
        opt.step()
        return float(bound.detach() * scale)

    return step


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--per-round", type=int, default=20)
    ap.add_argument("--n", type=int, default=5000, help="rows of synthetic binary data")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.per_round, args.n = 2, 2, 256
    tuned = tune_allocator()  # what `zsdsl fit` does first
    torch.manual_seed(0)
    x = (torch.rand(args.n, 784) < 0.3).float()
    results = []
    for infer, k in (("nvil", 1), ("vimco", 50)):
        torch.manual_seed(0)
        steps = {"zsdsl": zsdsl_stepper("sbn", x, infer, k), "torch": torch_stepper(x, infer, k)}
        t = time_pair(steps, args.rounds, args.per_round, warmup=2 if args.quick else 10)
        results.append({"spec": "sbn", "infer": infer, "particles": k, "zsdsl_ms": round(t["zsdsl"], 3),
                        "torch_ms": round(t["torch"], 3), "ratio": round(t["zsdsl"] / t["torch"], 3)})  # fmt: skip
    print(json.dumps({"benchmark": "sbn_step", "machine": machine(), "batch": B, "rounds": args.rounds,
                      "steps_per_round": args.per_round, "allocator_tuned": tuned, "results": results}))  # fmt: skip


if __name__ == "__main__":
    main()

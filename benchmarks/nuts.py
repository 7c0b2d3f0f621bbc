"""NUTS efficiency: minimum bulk ESS (over all reported quantities) per second of wall time.

``cold`` runs ``zsdsl sample --no-plots`` as a new process and times it end to end (interpreter start,
imports, parsing, compilation, warmup, draws, writing the run directory): what a user waits
for, less the end-of-run plots (the peers draw none; they add about 5 s). ``warm`` reuses a
compiled model in this process and times ``sample`` (warmup included).
The ``-compiled`` modes add ``--compile`` (torch.compile of the log density): ``cold-compiled``
starts from an empty TorchInductor cache (a first run ever), ``cold-compiled-cached`` from the
cache the previous run left (any later run), ``warm-compiled`` reuses the compiled potential.
``warm-vectorized`` is ``warm`` with ``--chain-method vectorized`` (every chain in one batched gradient
call per leapfrog) against ``warm`` (one chain a process over the cores).
Models: eight schools (noncentered) and logistic regression (N=5000, D=25 synthetic, seed 0).

    python benchmarks/nuts.py                   # 500 warmup, 1000 draws, 1 and 4 chains
    python benchmarks/nuts.py --quick           # tiny runs (CI)
    python benchmarks/nuts.py --chains 4 16 64 256 --modes warm warm-vectorized --peers   # chain methods
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402
from _common import ROOT, machine  # noqa: E402
from gradient import synthetic_logreg  # noqa: E402

import zsdsl  # noqa: E402
from zsdsl.runtime.data import load_data  # noqa: E402
from zsdsl.runtime.mcmc.sampler import SamplerConfig, sample  # noqa: E402

MODELS = {
    "eight_schools_noncentered": (ROOT / "specs" / "eight_schools_noncentered.zs", None),
    "logreg": (ROOT / "specs" / "logistic_regression.zs", synthetic_logreg),
}


def min_ess_from_summary(table: dict) -> float:
    return float(min(row["ess_bulk"] for row in table.values()))


def cold(spec: Path, data: Path, chains: int, warmup: int, draws: int, seed: int, tmp: Path, mode: str) -> dict:
    out = tmp / f"run-{spec.stem}-{chains}-{mode}"
    cmd = [
        sys.executable,
        "-m",
        "zsdsl.cli",
        "sample",
        str(spec),
        "--data",
        str(data),
        "--chains",
        str(chains),
        "--warmup",
        str(warmup),
        "--draws",
        str(draws),
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--no-plots",
    ]  # fmt: skip  (the peers draw no plots either)
    env = dict(os.environ)
    if mode != "cold":
        cmd.append("--compile")
        env["TORCHINDUCTOR_CACHE_DIR"] = str(tmp / f"inductor-{spec.stem}-{chains}")
        if mode == "cold-compiled":
            shutil.rmtree(env["TORCHINDUCTOR_CACHE_DIR"], ignore_errors=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    summ = subprocess.run([sys.executable, "-m", "zsdsl.cli", "summary", str(out), "--format", "json"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return {"wall_s": wall, "min_ess_bulk": min_ess_from_summary(json.loads(summ.stdout))}


def warm(model, data: dict, chains: int, warmup: int, draws: int, seed: int, compiled: bool,
         chain_method: str = "processes") -> dict:  # fmt: skip
    """``sample`` on a model compiled before (with ``compiled``, its potential's torch.compile too)."""
    cfg = SamplerConfig(chains=chains, warmup=warmup, draws=draws, seed=seed, compile=compiled,
                        chain_method=chain_method)  # fmt: skip
    if compiled:  # compile and run once untimed, as a warm JIT cache would
        sample(model, data, SamplerConfig(chains=1, warmup=10, draws=10, seed=seed, compile=True))
    t0 = time.perf_counter()
    result = sample(model, data, cfg)
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "min_ess_bulk": min_ess_from_summary(result.summary()),
            "gradients": result.potential.backend,
            "n_leapfrog_mean": round(float(result.stat("n_leapfrog__").mean()), 2)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--chains", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--modes", nargs="+",
                    default=["cold", "warm", "cold-compiled", "cold-compiled-cached", "warm-compiled"])  # fmt: skip
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--peers", nargs="*", default=["numpyro", "nutpie", "pymc", "stan"],
                    help="peers to run when installed")  # fmt: skip
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.warmup, args.draws, args.chains, args.modes = 30, 30, [2], ["cold", "warm"]
    torch.set_default_dtype(torch.float64)
    results = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for name in args.models:
            spec, make = MODELS[name]
            if make is None:
                data_path = ROOT / "specs" / "data" / "eight_schools.json"
            else:
                data_path = tmp / f"{name}.json"
                data_path.write_text(json.dumps(make()))
            cm = zsdsl.load(spec)
            data = cm.prepare_data(load_data(data_path))
            model = cm.model(data)
            for chains in args.chains:
                for mode in args.modes:
                    if mode.startswith("cold"):
                        r = cold(spec, data_path, chains, args.warmup, args.draws, args.seed, tmp, mode)
                    else:
                        method = "vectorized" if mode == "warm-vectorized" else "processes"
                        r = warm(model, data, chains, args.warmup, args.draws, args.seed, mode == "warm-compiled",
                                 method)  # fmt: skip
                    results.append({"model": name, "engine": "zsdsl", "mode": mode, "chains": chains,
                                    "warmup": args.warmup, "draws": args.draws,
                                    "min_ess_bulk": round(r["min_ess_bulk"], 1), "wall_s": round(r["wall_s"], 3),
                                    "min_ess_bulk_per_s": round(r["min_ess_bulk"] / r["wall_s"], 2),
                                    **{k: r[k] for k in ("gradients", "n_leapfrog_mean") if k in r}})  # fmt: skip
        for engine in ("numpyro", "nutpie", "pymc", "stan"):
            if peers.available(engine) and not args.quick and engine in args.peers:
                results += _peer_runs(engine, args, results)
    print(json.dumps({"benchmark": "nuts", "machine": machine(), "results": results,
                      "peers": _peers()}))  # fmt: skip


def _last_json(stdout: str) -> dict:
    """The JSON line a peer run prints last (PyStan prints its progress to stdout too)."""
    return json.loads(stdout.strip().splitlines()[-1])


def _peer_runs(engine: str, args, ours: list) -> list:
    """One peer's NUTS: cold (a new process: imports, model build, JIT or C/numba compilation
    included) and warm (in this process, the compiled model reused)."""
    out = []
    for name in args.models:
        for chains in args.chains:
            cmd = [sys.executable, str(Path(__file__).resolve().parent / "peers.py"), engine, name, str(chains),
                   str(args.warmup), str(args.draws), str(args.seed)]  # fmt: skip
            # a first run ever: empty compilation caches (httpstan's C++ builds, PyTensor's C modules)
            cache = tempfile.mkdtemp(prefix=f"zsdsl-bench-{engine}-")
            env = dict(os.environ, XDG_CACHE_HOME=cache, PYTENSOR_FLAGS=f"base_compiledir={cache}/pytensor")
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
            cold_r = {"wall_s": time.perf_counter() - t0, "min_ess_bulk": _last_json(proc.stdout)["min_ess_bulk"]}
            if engine == "numpyro":
                peers.numpyro_nuts(name, chains, args.warmup, args.draws, args.seed)  # compile
                warm_r = peers.numpyro_nuts(name, chains, args.warmup, args.draws, args.seed)
            elif engine == "stan":  # the C++ model built by the cold run is cached by httpstan
                warm_r = _last_json(subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout)
            else:
                compiled = peers.pymc_compiled(name, engine)
                peers.pymc_nuts(name, chains, 20, 20, args.seed, engine, compiled)  # caches warmed
                warm_r = peers.pymc_nuts(name, chains, args.warmup, args.draws, args.seed, engine, compiled)
            shutil.rmtree(cache, ignore_errors=True)
            for mode, r in (("cold", cold_r), ("warm", warm_r)):
                rate = r["min_ess_bulk"] / r["wall_s"]
                same = [o for o in ours if (o["model"], o["chains"], o["mode"]) == (name, chains, mode)]
                ratio = round(same[0]["min_ess_bulk_per_s"] / rate, 3) if same else None
                out.append({"model": name, "engine": engine, "mode": mode, "chains": chains, "warmup": args.warmup,
                            "draws": args.draws, "min_ess_bulk": round(r["min_ess_bulk"], 1),
                            "wall_s": round(r["wall_s"], 3), "min_ess_bulk_per_s": round(rate, 2),
                            "zsdsl_over_peer": ratio})  # fmt: skip
    return out


def _peers() -> dict:
    found = {}
    for mod in ("numpyro", "pyro", "stan", "nutpie", "pymc"):
        if mod in ("numpyro", "nutpie", "pymc", "stan") and peers.available(mod):
            found[mod] = f"measured (rows with engine {mod})"
        elif peers.available(mod):
            found[mod] = "installed; not run by this script"
        else:
            found[mod] = "skipped: not installed (pip install -r benchmarks/requirements-peers.txt)"
    return found


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()

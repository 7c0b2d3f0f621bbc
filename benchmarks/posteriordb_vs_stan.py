"""Wall time of posteriordb posteriors with zsdsl's NUTS and with Stan (PyStan 3), side by side, in one run:
4 chains of 1000 warmup + 1000 draws, seed 1, the posterior's own ``model.stan`` and data for Stan. zsdsl's
figure is ``CompiledModel.sample`` end to end in this process (model compiled, gradient path checked,
chains in parallel processes, draws derived); Stan's splits the C++ build (cached by httpstan after the
first run) from sampling. Also the minimum bulk ESS of each (over the spec's latents / Stan's parameters).

    OMP_NUM_THREADS=1 python benchmarks/posteriordb_vs_stan.py garch-garch11 arK-arK | grep "^{" \
        > benchmarks/results/posteriordb_vs_stan.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, SHARED, command, machine  # noqa: E402
from peers import _min_ess  # noqa: E402  (the ESS the NUTS benchmark's peers are measured by)

import zsdsl  # noqa: E402
from zsdsl.runtime.data import load_data  # noqa: E402
from zsdsl.runtime.mcmc.reference import data_file  # noqa: E402


def run_zsdsl(name: str, chains: int, warmup: int, draws: int, seed: int) -> dict:
    t0 = time.perf_counter()
    cm = zsdsl.load(ROOT / "specs" / "posteriordb" / f"{name}.zs")
    result = cm.sample(load_data(data_file(SHARED / "posteriordb" / name)), method="nuts", chains=chains,
                       warmup=warmup, draws=draws, seed=seed)  # fmt: skip
    wall = time.perf_counter() - t0
    idata = result.to_inference_data()
    latents = [s.name for s in result.potential.sites]
    draws = {k: idata.posterior[k].values for k in latents}
    return {"wall_s": round(wall, 2), "min_ess_bulk": round(_min_ess(draws), 1),
            "gradients": result.potential.backend, "divergent": int(result.stat("divergent__").sum())}  # fmt: skip


def run_stan(name: str, chains: int, warmup: int, draws: int, seed: int) -> dict:
    import arviz as az
    import stan

    folder = SHARED / "posteriordb" / name
    code = (folder / "model.stan").read_text()
    data = load_data(data_file(folder))
    t0 = time.perf_counter()
    posterior = stan.build(code, data=data, random_seed=seed)
    built = time.perf_counter()
    fit = posterior.sample(num_chains=chains, num_samples=draws, num_warmup=warmup)
    done = time.perf_counter()
    post = az.from_pystan(posterior=fit).posterior
    return {"build_s": round(built - t0, 2), "sample_s": round(done - built, 2), "wall_s": round(done - t0, 2),
            "min_ess_bulk": round(_min_ess({k: post[k].values for k in post.data_vars}), 1)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="+")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rows = []
    for name in args.names:
        row = {"posterior": name, "zsdsl": run_zsdsl(name, args.chains, args.warmup, args.draws, args.seed)}
        try:
            row["stan"] = run_stan(name, args.chains, args.warmup, args.draws, args.seed)
            row["zsdsl_over_stan_sampling"] = round(row["zsdsl"]["wall_s"] / row["stan"]["sample_s"], 2)
        except ImportError:
            row["stan"] = "PyStan 3 is not installed (pip install -r benchmarks/requirements-peers.txt)"
        rows.append(row)
    print(json.dumps({"benchmark": "posteriordb_vs_stan", "machine": machine(), "command": command(),
                      "chains": args.chains, "warmup": args.warmup, "draws": args.draws, "results": rows}))  # fmt: skip


if __name__ == "__main__":
    main()

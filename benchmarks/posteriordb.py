"""Every posteriordb posterior of ``specs/posteriordb/`` with zsdsl's NUTS and with Stan (PyStan 3), in one run.

For each spec: zsdsl samples 4 chains of 1000 warmup + 1000 draws (seed 1, chains in parallel processes)
and is checked against the posterior's reference with the tests' criterion
(``zsdsl.runtime.mcmc.reference``); its wall time is end to end in this process (model compiled,
gradient path checked and compiled by numba into an empty cache, chains, summary). Stan runs the
posterior's own ``model.stan`` on its data with the same settings; its C++ build (cached by httpstan
after the first run) is timed apart from sampling, so Stan's figure is the "compiled model reused"
time. Where a posterior has no reference, zsdsl is checked against Stan's draws with the same
criterion. Each row: status, wall time, min bulk ESS and
ESS/s over the parameters, divergences, for both, and zsdsl's wall time over Stan's sampling time.

    OMP_NUM_THREADS=1 python benchmarks/posteriordb.py > benchmarks/results/posteriordb.json
    python benchmarks/report.py --write            # the table in benchmarks/README.md

``--only NAME ...`` runs some; ``--no-stan`` skips Stan; ``--quick`` is eight schools, 2 chains of 100 + 100.
``--stan-from OLD.json`` takes Stan's row of each posterior with a posteriordb reference from an earlier
output of this script (same settings and seed; each such row says so in ``stan_from``) instead of
rebuilding and rerunning Stan; posteriors checked against Stan's draws still run Stan.
Progress goes to stderr, one line per posterior.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, SHARED, command, machine  # noqa: E402

from zsdsl.runtime.mcmc.output import flat_columns, summarize  # noqa: E402
from zsdsl.runtime.mcmc.reference import SETTINGS, check_reference, data_file, zero_based  # noqa: E402

TARGET_S = 60.0  # the language issue's target for 4 chains x (1000 + 1000) on this machine
STAN_EXCEPTION_S = 10.0  # ... unless Stan's own sampling takes longer than this


def run_zsdsl(spec: Path, folder: Path, sizes: dict, reference: dict) -> dict:
    """zsdsl's run, checked against ``reference``; its min bulk ESS is over the reference's scalars."""
    t0 = time.perf_counter()
    failures, result = check_reference(spec, folder, reference=reference, **sizes)
    wall = time.perf_counter() - t0
    table = summarize(flat_columns(result.values()))
    ess = min(table[zero_based(name)]["ess_bulk"] for name in reference)
    return {
        "status": "pass" if not failures else "fail",
        "wall_s": round(wall, 1),
        "min_ess_bulk": round(ess, 1),
        "ess_per_s": round(ess / wall, 1),
        "divergences": int(result.stat("divergent__").sum()),
        "gradients": result.potential.backend,
        "gradients_reason": result.potential.backend_reason,
        "failures": failures,
    }


def run_stan(folder: Path, sizes: dict, seed: int, names: set) -> tuple[dict, dict]:
    """Stan's run and its summary of the parameters ``names`` (name -> mean, sd, bulk ESS: as posteriordb's
    reference, 1-based), from which its min bulk ESS is taken."""
    import arviz as az
    import stan

    code = (folder / "model.stan").read_text()
    path = data_file(folder)
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    data = json.loads(raw)
    delta = SETTINGS.get(folder.name, {}).get("target_accept", 0.8)
    with contextlib.redirect_stdout(sys.stderr):  # PyStan's "Building..." is not this script's JSON
        t0 = time.perf_counter()
        posterior = stan.build(code, data=data, random_seed=seed)
        built = time.perf_counter()
        fit = posterior.sample(num_chains=sizes["chains"], num_samples=sizes["draws"], num_warmup=sizes["warmup"],
                               delta=delta)  # fmt: skip
        done = time.perf_counter()
    post = az.from_pystan(posterior=fit).posterior
    summary = _summary({k: post[k].values for k in posterior.param_names if k in names})
    ess = min(v["ess_bulk"] for v in summary.values())
    row = {"build_s": round(built - t0, 1), "sample_s": round(done - built, 1), "min_ess_bulk": round(ess, 1),
           "ess_per_s": round(ess / (done - built), 1), "divergences": int(fit["divergent__"].sum())}  # fmt: skip
    return row, summary


def _summary(params: dict) -> dict:
    """Draws ([chains, draws, ...] per name) summarised per scalar as a posteriordb reference (1-based names)."""
    cols = {}
    for name, arr in params.items():
        arr = np.asarray(arr, dtype=np.float64)
        shape = arr.shape[2:]
        for idx in np.ndindex(*shape) if shape else [()]:
            key = f"{name}[{','.join(str(j + 1) for j in idx)}]" if idx else name
            cols[key] = arr[(slice(None), slice(None), *idx)]
    return {k: {"mean": v["mean"], "sd": v["sd"], "ess_bulk": v["ess_bulk"]} for k, v in summarize(cols).items()}


def _latents(spec: Path, folder: Path) -> list[str]:
    import zsdsl

    cm = zsdsl.load(spec)
    data = cm.load_data(data_file(folder))
    return [site.name for site in cm.model(data).sites(data)]


def verdict(z: dict, s: dict | None) -> str:
    """The issue's time target: within 60 s, or named as an exception where Stan's own run takes over 10 s."""
    if z["wall_s"] <= TARGET_S:
        return "met"
    if s is not None and s["sample_s"] > STAN_EXCEPTION_S:
        return f"exception (Stan {s['sample_s']:.0f} s)"
    return "missed"


def sizes_of(args) -> dict:
    return {"chains": 2, "warmup": 100, "draws": 100} if args.quick else {"chains": 4, "warmup": 1000, "draws": 1000}


def _earlier_stan(path: Path, sizes: dict, seed: int) -> dict:
    """Stan's rows of an earlier run with the same sizes and seed (posterior -> row); refused otherwise."""
    old = json.loads(path.read_text())
    if {k: old.get(k) for k in sizes} != sizes or old.get("seed") != seed:
        sys.exit(f"error: {path} was run with other settings ({ {k: old.get(k) for k in [*sizes, 'seed']} }).")
    return {r["posterior"]: r["stan"] for r in old["results"] if r.get("stan")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=None, help="Posterior names (default: every spec).")
    ap.add_argument("--no-stan", action="store_true", help="zsdsl only.")
    ap.add_argument("--quick", action="store_true", help="Eight schools only, 2 chains of 100 + 100.")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--stan-from",
        type=Path,
        default=None,
        help="An earlier output of this script: Stan's rows are taken from it where a reference exists.",
    )
    args = ap.parse_args()
    # numba compiles every kernel inside the timed runs, as on a user's first run (not from an earlier cache)
    os.environ.setdefault("ZSDSL_CACHE_DIR", tempfile.mkdtemp(prefix="zsdsl-bench-cache-"))
    earlier = _earlier_stan(args.stan_from, sizes_of(args), args.seed) if args.stan_from else {}
    if args.quick:
        args.only = ["eight_schools-eight_schools_noncentered"]
    sizes = sizes_of(args)
    if not (SHARED / "posteriordb").is_dir():
        sys.exit(f"error: the posteriordb data are not at {SHARED / 'posteriordb'} (../shared/data beside the "
                 "checkout, or ZSDSL_SHARED).")  # fmt: skip
    rows = []
    for spec in sorted((ROOT / "specs" / "posteriordb").glob("*.zs")):
        if args.only and spec.stem not in args.only:
            continue
        folder = SHARED / "posteriordb" / spec.stem
        row: dict = {"posterior": spec.stem}
        ref_file = folder / "reference.json"
        reference = json.loads(ref_file.read_text())["parameters"] if ref_file.exists() else None
        names = {k.split("[")[0] for k in reference} if reference else set(_latents(spec, folder))
        stan_summary = None
        if reference is not None and spec.stem in earlier:
            row["stan"], row["stan_from"] = earlier[spec.stem], str(args.stan_from)
        elif not args.no_stan:
            try:
                row["stan"], stan_summary = run_stan(folder, sizes, args.seed, names)
            except ImportError:
                row["stan"] = None
                row["stan_missing"] = "PyStan 3 is not installed (pip install -r benchmarks/requirements-peers.txt)"
        row["reference"] = "posteriordb" if reference else ("Stan's draws in this run" if stan_summary else "none")
        if reference is None and stan_summary is None:
            row["zsdsl"] = {"status": "no reference (run with Stan to check against its draws)"}
            rows.append(row)
            continue
        row["zsdsl"] = run_zsdsl(spec, folder, {**sizes, "seed": args.seed}, reference or stan_summary)
        stan = row.get("stan")
        if stan:
            row["zsdsl_over_stan_sampling"] = round(row["zsdsl"]["wall_s"] / max(stan["sample_s"], 1e-9), 2)
        row["time_target"] = verdict(row["zsdsl"], stan)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    out = {"benchmark": "posteriordb", "command": command(), "machine": machine(), **sizes, "seed": args.seed,
           "target_s": TARGET_S, "stan_exception_s": STAN_EXCEPTION_S, "results": rows}  # fmt: skip
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

"""The full posteriordb sweep, outside CI's budget: every spec in specs/posteriordb/ whose posterior
has a reference in ../shared/data/posteriordb, checked as the tests do (NUTS, 4 chains, 1000 + 1000,
``zsdsl.runtime.mcmc.reference``); one JSON record per posterior with its wall time, the slowest
chain's gradient backend, divergences and the parameters that missed.

    OMP_NUM_THREADS=1 python benchmarks/posteriordb_sweep.py [--only NAME ...] \
        > benchmarks/results/posteriordb_sweep.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED, command, machine  # noqa: E402

from zsdsl.runtime.mcmc.reference import check_reference  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="Posterior names (default: every spec).")
    parser.add_argument("--quick", action="store_true", help="Eight schools only, 2 chains of 100 + 100.")
    args = parser.parse_args()
    if args.quick:
        args.only = ["eight_schools-eight_schools_noncentered"]
    sizes = {"chains": 2, "warmup": 100, "draws": 100} if args.quick else {}
    rows = []
    for spec in sorted((ROOT / "specs" / "posteriordb").glob("*.zs")):
        if args.only and spec.stem not in args.only:
            continue
        folder = SHARED / "posteriordb" / spec.stem
        if not (folder / "reference.json").exists():
            rows.append({"posterior": spec.stem, "status": "no reference"})
            continue
        t0 = time.perf_counter()
        failures, result = check_reference(spec, folder, **sizes)
        rows.append({
            "posterior": spec.stem,
            "status": "pass" if not failures else "fail",
            "wall_s": round(time.perf_counter() - t0, 1),
            "gradients": result.potential.backend,
            "divergences": int(result.stat("divergent__").sum()),
            "failures": failures,
        })  # fmt: skip
        print(json.dumps(rows[-1]), file=sys.stderr)
    out = {"benchmark": "posteriordb_sweep", "command": command(), "machine": machine(), "results": rows}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

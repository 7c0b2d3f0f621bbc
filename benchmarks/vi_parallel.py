"""Data-parallel VI throughput: the VAE on binarized MNIST, one epoch (391 steps of 128 images, or
``--subsample B`` images a step), in 1 process x 1 thread, 1 process x 2 threads and N processes x 1
thread (``zsdsl fit --nprocs``).

Each configuration runs the CLI (``zsdsl fit specs/vae.zs --epochs 1``) in a fresh process,
rotating the order over ``--rounds`` rounds; the figure is the median over rounds of the training
loop's wall time (rank 0's ``wall_s`` at the last step of ``metrics.csv``: start-up, data loading and
compilation excluded) and, beside it, the command's whole wall time. It also checks that every
configuration ends at the same ELBO (the same seed gives the same fit: ``final_elbo_relative_spread``).
Prints one JSON object:

    python benchmarks/vi_parallel.py              # 3 rounds, 2 processes
    python benchmarks/vi_parallel.py --quick      # 20 steps on 2,560 images (CI)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, SHARED, command, machine  # noqa: E402


def run(config: tuple[int, int], spec: Path, data: str, steps: list[str], out: Path) -> dict:
    nprocs, threads = config
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    args = [sys.executable, "-m", "zsdsl.cli", "fit", str(spec), "--data", data, *steps,
            "--out", str(out), "--overwrite", "--draws", "0", "--no-plots", "--nprocs", str(nprocs),
            "--checkpoint-every", "100000"]  # fmt: skip
    t0 = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr}")
    last = list(csv.DictReader((out / "metrics.csv").open()))[-1]
    return {"loop_s": float(last["wall_s"]), "command_s": wall, "elbo": float(last["elbo"]), "step": int(last["step"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--nprocs", type=int, default=2)
    ap.add_argument("--subsample", type=int, default=128, help="the minibatch (the spec's is 128)")
    ap.add_argument("--steps", type=int, default=None, help="steps in place of one epoch")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    path = SHARED / "mnist" / "binarized_mnist.npz"
    if not path.exists():
        print(json.dumps({"benchmark": "vi_parallel", "skipped": f"{path} not found"}))
        return
    configs = [(1, 1), (1, 2), (args.nprocs, 1)]
    with tempfile.TemporaryDirectory() as tmp:
        data, steps = f"{path}:train", ["--epochs", "1"] if args.steps is None else ["--steps", str(args.steps)]
        spec = Path(tmp) / "vae.zs"
        text = (ROOT / "specs" / "vae.zs").read_text()
        spec.write_text(text.replace("subsample=128", f"subsample={args.subsample}"))
        if args.quick:
            import numpy as np

            from zsdsl.runtime.data import load_data

            small = Path(tmp) / "small.npz"
            np.savez(small, x=load_data(data)["x"][:2560])
            data, steps, args.rounds = str(small), ["--steps", "20"], 1
        times: dict = {c: [] for c in configs}
        for r in range(args.rounds):
            for c in configs[r % len(configs) :] + configs[: r % len(configs)]:
                times[c].append(run(c, spec, data, steps, Path(tmp) / f"run-{c[0]}x{c[1]}"))
    rows = []
    for (nprocs, threads), found in times.items():
        rows.append({"processes": nprocs, "threads_each": threads, "steps": found[0]["step"],
                     "loop_s": statistics.median(f["loop_s"] for f in found),
                     "command_s": statistics.median(f["command_s"] for f in found),
                     "final_elbo": found[0]["elbo"], "rounds": [f["loop_s"] for f in found]})  # fmt: skip
    base = rows[0]["loop_s"]
    for row in rows:
        row["speedup_vs_1x1"] = base / row["loop_s"]
    elbos = [row["final_elbo"] for row in rows]
    spread = (max(elbos) - min(elbos)) / abs(elbos[0])  # metrics.csv keeps 6 digits
    print(json.dumps({"benchmark": "vi_parallel", "machine": machine(), "command": command(), "model": "vae sgvb",
                      "subsample": args.subsample,
                      "rows": rows, "final_elbo_relative_spread": spread}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()

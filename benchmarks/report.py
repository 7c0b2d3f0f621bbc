"""Render benchmarks/README.md's tables from the JSON the benchmark scripts printed.

python benchmarks/vae_step.py > benchmarks/results/vae_step.json
python benchmarks/gradient.py > benchmarks/results/gradient.json
python benchmarks/nuts.py     > benchmarks/results/nuts.json
python benchmarks/report.py   # prints the Markdown tables
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

NUTS_TARGETS = {  # best peer on this machine class (from the performance issue): cold, warm
    "eight_schools_noncentered": {"cold": 190, "warm": 787},
    "logreg": {"cold": 253, "warm": 707},
}


def _load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def render() -> str:
    out = []
    vae = _load("vae_step")
    if vae:
        m = vae["machine"]
        out += [f"### One training step (`vae_step.py`; {m['cpu']}, {m['threads']} threads, torch {m['torch']})", "",
                "| spec | objective | particles | zsdsl ms | hand-written PyTorch ms | ratio |",
                "|---|---|---|---|---|---|"]  # fmt: skip
        for r in vae["results"]:
            out.append(f"| {r['spec']} | {r['infer']} | {r['particles']} | {r['zsdsl_ms']:.2f} | {r['torch_ms']:.2f} | "
                       f"{r['ratio']:.3f} |")  # fmt: skip
        out.append("")
    grad = _load("gradient")
    if grad:
        out += ["### Log density + gradient on the unconstrained vector (`gradient.py`, float64)", "",
                "| model | dim | zsdsl µs | hand-written PyTorch µs | ratio |", "|---|---|---|---|---|"]  # fmt: skip
        for r in grad["results"]:
            out.append(f"| {r['model']} | {r['dim']} | {r['zsdsl_us']:.1f} | {r['torch_us']:.1f} | {r['ratio']:.3f} |")
        out.append("")
    nuts = _load("nuts")
    if nuts:
        out += ["### NUTS: min bulk ESS per second of wall time (`nuts.py`, 500 warmup + 1000 draws)", "",
                "| model | chains | mode | wall s | min ESS bulk | ESS/s | best peer (issue table) |",
                "|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in nuts["results"]:
            kind = "warm" if r["mode"].startswith("warm") else "cold"
            target = NUTS_TARGETS.get(r["model"], {}).get(kind, "") if r["chains"] == 4 else ""
            out.append(f"| {r['model']} | {r['chains']} | {r['mode']} | {r['wall_s']:.2f} | {r['min_ess_bulk']:.0f} | "
                       f"{r['min_ess_bulk_per_s']:.0f} | {target} |")  # fmt: skip
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(render())

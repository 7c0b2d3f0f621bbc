"""Compiler speed: parse, check (to IR, with passes and verification), emit (PyTorch) and gradient
(the NumPy value-and-gradient module) time per spec in
``specs/``, medians over repeated runs in this process, and ``zsdsl --help`` start-up time (a new
process each time). Prints one JSON object.

    python benchmarks/compile.py
    python benchmarks/compile.py --quick     # one round (CI)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, machine  # noqa: E402

from zsdsl.compiler.check import check_program  # noqa: E402
from zsdsl.compiler.emit import emit_module  # noqa: E402
from zsdsl.compiler.gradient import emit_gradient  # noqa: E402
from zsdsl.compiler.passes import run_passes  # noqa: E402
from zsdsl.compiler.pipeline import parse_file_text, read_spec  # noqa: E402
from zsdsl.compiler.verify import verify_ir  # noqa: E402


def stages(path: Path) -> dict:
    """Milliseconds of each stage for one compilation of ``path``."""
    text = read_spec(path)
    t0 = time.perf_counter()
    program = parse_file_text(text, str(path))
    t1 = time.perf_counter()
    checked = check_program(program)
    verify_ir(checked)
    optimized = run_passes(checked, verify=verify_ir)
    t2 = time.perf_counter()
    emit_module(optimized, path.name)
    t3 = time.perf_counter()
    emit_gradient(optimized, path.name, program)
    t4 = time.perf_counter()
    return {"parse_ms": (t1 - t0) * 1e3, "check_ms": (t2 - t1) * 1e3, "emit_ms": (t3 - t2) * 1e3,
            "gradient_ms": (t4 - t3) * 1e3, "total_ms": (t4 - t0) * 1e3}  # fmt: skip


def startup(rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "zsdsl.cli", "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.rounds = 1
    specs = sorted((ROOT / "specs").glob("*.zs")) + sorted((ROOT / "specs").glob("*.zs.yaml"))
    specs += sorted((ROOT / "specs" / "posteriordb").glob("*.zs"))
    for path in specs:  # warm the imports and lark's grammar cache
        stages(path)
    results = []
    for path in specs:
        runs = [stages(path) for _ in range(args.rounds)]
        row = {"spec": str(path.relative_to(ROOT / "specs")), "lines": len(read_spec(path).splitlines())}
        row.update({k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]})
        results.append(row)
    total = [r["total_ms"] for r in results]
    print(json.dumps({
        "benchmark": "compile", "machine": machine(), "rounds": args.rounds, "results": results,
        "median_total_ms": round(statistics.median(total), 3), "max_total_ms": round(max(total), 3),
        "help_startup_s": round(startup(3 if args.quick else 10), 3),
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()

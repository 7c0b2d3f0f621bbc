"""Render benchmarks/README.md's tables from the JSON the benchmark scripts printed.

python benchmarks/vae_step.py > benchmarks/results/vae_step.json
python benchmarks/sbn_step.py > benchmarks/results/sbn_step.json
python benchmarks/gradient.py --previous DIR > benchmarks/results/gradient.json  # DIR: an older checkout
python benchmarks/nuts.py     > benchmarks/results/nuts.json
python benchmarks/nuts.py --chains 4 16 64 256 --modes warm warm-vectorized --peers \
    > benchmarks/results/nuts_chains.json
python benchmarks/compile.py  > benchmarks/results/compile.json
OMP_NUM_THREADS=1 python benchmarks/posteriordb.py > benchmarks/results/posteriordb.json
python benchmarks/report.py   # prints the Markdown tables (report_library.py: the model library's)

and the variational figures (long runs) as results/vi_*.json: see each row's command.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report_library import RESULTS, library_rows, load_result  # noqa: E402  (one reader of results/*.json)

# the performance issue's targets, against the peers of the same run: cold ≥ the best peer cold,
# warm ≥ NumPyro's and PyMC's warm
TARGET_PEERS = {"cold": ("numpyro", "nutpie", "pymc", "stan"), "warm": ("numpyro", "pymc")}


def _nuts_target(rows: list, r: dict) -> str:
    kind = "warm" if r["mode"].startswith("warm") else "cold"
    if r["engine"] != "zsdsl" or r["mode"] not in ("cold", "warm"):
        return ""
    peers = [p["min_ess_bulk_per_s"] for p in rows if p["engine"] in TARGET_PEERS[kind] and p["mode"] == kind
             and p["model"] == r["model"] and p["chains"] == r["chains"]]  # fmt: skip
    if not peers:
        return ""
    return f"{max(peers):.0f} ({r['min_ess_bulk_per_s'] / max(peers):.2f}×)"


def render() -> str:
    out = library_rows()
    steps = [r for r in (load_result("vae_step"), load_result("sbn_step")) if r]
    if steps:
        m = steps[0]["machine"]
        scripts = " and ".join(f"`{r['benchmark']}.py`" for r in steps)
        out += [f"### One training step ({scripts}; {m['cpu']}, {m['threads']} threads, torch {m['torch']})", "",
                "| spec | objective | particles | zsdsl ms | hand-written PyTorch ms | ratio |",
                "|---|---|---|---|---|---|"]  # fmt: skip
        for r in (row for result in steps for row in result["results"]):
            out.append(f"| {r['spec']} | {r['infer']} | {r['particles']} | {r['zsdsl_ms']:.2f} | {r['torch_ms']:.2f} | "
                       f"{r['ratio']:.3f} |")  # fmt: skip
            if "pyro_ms" in r:
                out.append(f"| {r['spec']} (Pyro Trace_ELBO) | {r['infer']} | {r['particles']} | {r['pyro_ms']:.2f} | "
                           f"{r['torch_ms']:.2f} | {r['pyro_ratio']:.3f} |")  # fmt: skip
        out.append("")
    grad = load_result("gradient")
    if grad:
        prev = grad.get("previous") or "an older checkout"
        out += ["### Log density + gradient on the unconstrained vector (`gradient.py`, float64)", "",
                f"`previous µs`: the same script run by {prev} right before, in the same invocation.", "",
                "| model | dim | zsdsl µs (path) | hand-written PyTorch µs | ratio | zsdsl PyTorch path µs | ratio | "
                "previous µs | zsdsl ÷ previous |",
                "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in grad["results"]:
            previous = f"{r['previous_us']:.1f} | {r['zsdsl_over_previous']:.3f}" if "previous_us" in r else " | "
            out.append(f"| {r['model']} | {r['dim']} | {r['zsdsl_us']:.1f} ({r.get('backend', 'torch')}) | "
                       f"{r['torch_us']:.1f} | {r['ratio']:.3f} | {r.get('zsdsl_torch_us', r['zsdsl_us']):.1f} | "
                       f"{r.get('zsdsl_torch_ratio', r['ratio']):.3f} | {previous} |")  # fmt: skip
        out.append("")
    out += _posteriordb()
    nuts = load_result("nuts")
    if nuts:
        out += ["### NUTS: min bulk ESS per second of wall time (`nuts.py`, 500 warmup + 1000 draws)", "",
                "Target: cold ≥ the best peer's cold, warm ≥ NumPyro's and PyMC's warm, both from this run.", "",
                "| model | engine | chains | mode | wall s | min ESS bulk | ESS/s | target (zsdsl ÷ target) |",
                "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in nuts["results"]:
            target = _nuts_target(nuts["results"], r)
            out.append(f"| {r['model']} | {r['engine']} | {r['chains']} | {r['mode']} | {r['wall_s']:.2f} | "
                       f"{r['min_ess_bulk']:.0f} | {r['min_ess_bulk_per_s']:.0f} | {target} |")  # fmt: skip
        out.append("")
    out += _chain_methods()
    comp = load_result("compile")
    if comp:
        out += [f"### Compiler (`compile.py`): parse, check and emit per spec, median of {comp['rounds']} rounds", "",
                f"`zsdsl --help` starts in {comp['help_startup_s'] * 1e3:.0f} ms (median of 10 new processes). "
                f"Median compilation {comp['median_total_ms']:.1f} ms, slowest {comp['max_total_ms']:.1f} ms.", "",
                "| spec | lines | parse ms | check ms | emit ms | gradient ms | total ms |",
                "|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in comp["results"]:
            grad_ms = f"{r['gradient_ms']:.2f}" if "gradient_ms" in r else ""
            out.append(f"| {r['spec']} | {r['lines']} | {r['parse_ms']:.2f} | {r['check_ms']:.2f} | "
                       f"{r['emit_ms']:.2f} | {grad_ms} | {r['total_ms']:.2f} |")  # fmt: skip
        out.append("")
    out += _variational()
    return "\n".join(out)


def _chain_methods() -> list:
    """Vectorized chains against process chains, from one run of ``nuts.py``."""
    runs = load_result("nuts_chains")
    if not runs:
        return []
    rows = runs["results"]
    m = runs["machine"]
    out = [f"### Chain methods: vectorized against processes (`nuts.py --modes warm warm-vectorized`; {m['cpu']}, "
           f"{m['threads']} threads)", "",
           "`processes`: one chain a process over the cores (numba's kernel and tree where the model takes them); "
           "`vectorized`: every chain in one batched PyTorch gradient call per leapfrog. `vectorized ÷ processes`: "
           "the ratio of min bulk ESS per second.", "",
           "| model | chains | method | gradients | wall s | mean leapfrogs | min ESS bulk | ESS/s | "
           "vectorized ÷ processes |",
           "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        method = "vectorized" if r["mode"] == "warm-vectorized" else "processes"
        ratio = ""
        if method == "vectorized":
            peer = [p for p in rows if p["mode"] == "warm" and (p["model"], p["chains"]) == (r["model"], r["chains"])]
            ratio = f"{r['min_ess_bulk_per_s'] / peer[0]['min_ess_bulk_per_s']:.2f}" if peer else ""
        out.append(f"| {r['model']} | {r['chains']} | {method} | {r.get('gradients', '')} | {r['wall_s']:.1f} | "
                   f"{r.get('n_leapfrog_mean', '')} | {r['min_ess_bulk']:.0f} | {r['min_ess_bulk_per_s']:.0f} | "
                   f"{ratio} |")  # fmt: skip
    out.append("")
    return out


def _posteriordb() -> list:
    """The posteriordb sweep: each posterior against its reference, with Stan's run beside it."""
    pdb = load_result("posteriordb")
    if not pdb:
        return []
    rows = pdb["results"]
    checked = [r for r in rows if r["zsdsl"]["status"] in ("pass", "fail")]
    passed = [r for r in checked if r["zsdsl"]["status"] == "pass"]
    met = [r for r in rows if r.get("time_target") == "met"]
    exceptions = [f"{r['posterior']} ({r['zsdsl']['wall_s']:.0f} s; Stan {r['stan']['sample_s']:.0f} s)" for r in rows
                  if r.get("time_target", "").startswith("exception")]  # fmt: skip
    missed = [f"{r['posterior']} ({r['zsdsl']['wall_s']:.0f} s)" for r in rows if r.get("time_target") == "missed"]
    with_ref = [r for r in checked if r["reference"] == "posteriordb"]
    out = [f"### posteriordb (`posteriordb.py`; NUTS {pdb['chains']} chains, {pdb['warmup']} + {pdb['draws']}, seed "
           f"{pdb['seed']}, 2 cores; Stan: PyStan 3, the same settings, its C++ build cached)", "",
           f"{len(passed)} of {len(checked)} posteriors match their reference "
           f"({sum(r in passed for r in with_ref)} of {len(with_ref)} with posteriordb's; the others against Stan's "
           f"draws of this run). Time target ({pdb['target_s']:.0f} s, or Stan's own run over "
           f"{pdb['stan_exception_s']:.0f} s): {len(met)} met"
           + (f"; exceptions: {', '.join(exceptions)}" if exceptions else "")
           + (f"; missed: {', '.join(missed)}" if missed else "") + ". "
           "`wall ÷ Stan`: zsdsl's wall time (compilation, gradient check, chains) over Stan's sampling time.", "",
           *[f"Note: {note}." for note in _notes(pdb)], *([""] if _notes(pdb) else []),
           "| posterior | check | zsdsl wall s | min ESS bulk | ESS/s | div. | gradients | Stan sampling s | "
           "Stan min ESS | Stan ESS/s | Stan div. | wall ÷ Stan | time target |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        z, st = r["zsdsl"], r.get("stan")
        if "wall_s" not in z:
            out.append(f"| {r['posterior']} | {z['status']} | | | | | | | | | | | |")
            continue
        check = z["status"] if not z["failures"] else f"fail: {'; '.join(z['failures'][:2])}"
        stan = (f"{st['sample_s']:.1f} | {st['min_ess_bulk']:.0f} | {st['ess_per_s']:.0f} | {st['divergences']} | "
                f"{r['zsdsl_over_stan_sampling']:.2f}") if st else " | | | | "  # fmt: skip
        out.append(f"| {r['posterior']} | {check} | {z['wall_s']:.1f} | {z['min_ess_bulk']:.0f} | "
                   f"{z['ess_per_s']:.0f} | {z['divergences']} | {z.get('gradients', '')} | {stan} | "
                   f"{r['time_target']} |")  # fmt: skip
    return [*out, ""]


def _notes(pdb: dict) -> list:
    """The run's own notes, and where Stan's rows came from an earlier run (``--stan-from``)."""
    notes = list(pdb.get("notes", []))
    earlier = sorted({r["stan_from"] for r in pdb["results"] if r.get("stan_from")})
    if earlier:
        n = sum(bool(r.get("stan_from")) for r in pdb["results"])
        notes.append(f"Stan's columns of {n} posteriors are from the earlier run {', '.join(earlier)} (same settings "
                     "and seed, `--stan-from`); the rest ran Stan in this run")  # fmt: skip
    return notes


def _variational() -> list:
    """One row per results/vi_*.json: what was fitted, the figure, and the command that made it."""
    rows = []
    for path in sorted(RESULTS.glob("vi_*.json")):
        r = json.loads(path.read_text())
        cmd = r.get("command", "")
        if r["benchmark"] == "vi_mnist":
            figure = f"test LL {r['test_ll']:.2f} ± {r['test_ll_se']:.2f} (K={r['eval_particles']}, n={r['eval_n']})"
            what = f"{r['model']} {r['infer']} k={r['particles'] or 1}, {r['steps']} steps"
            if r.get("schedule", "constant") != "constant":
                what += f", {r['schedule']} lr"
            if r.get("early_stop"):
                ran = r["stopped_epoch"] or len(r["valid_curve"])
                what += f", early stopping: best of {ran} epochs on valid (epoch {r['best_epoch']})"
            rows.append(f"| binarized MNIST | {what} | {figure}; test ELBO {r['test_elbo']:.2f} | "
                        f"{r['fit_s']:.0f} | `{cmd}` |")  # fmt: skip
        elif r["benchmark"] == "vi_uci_bnn":
            start = (
                f", sds from {r['init_scale']:g}"
                if r.get("guide", "").startswith("auto-") and "init_scale" in r
                else ""
            )
            for d in r["results"]:
                figure = (f"RMSE {d['rmse_mean']:.2f} ± {d['rmse_se']:.2f}, LL {d['ll_mean']:.2f} ± {d['ll_se']:.2f} "
                          f"({d['splits']} splits)")  # fmt: skip
                what = f"{r.get('spec', 'bnn_regression')} sgvb, {r['steps']} steps{start}"
                rows.append(f"| UCI {d['dataset']} | {what} | {figure} | {d['wall_s']:.0f} | `{cmd}` |")  # fmt: skip
        elif r["benchmark"] == "vi_ssl_m2":
            what = f"ssvae_m2 sgvb{', analytic KL' if r.get('analytic_kl') else ''}, {r['steps']} steps"
            what += f" ({r['note']})" if r.get("note") else ""
            rows.append(f"| MNIST, {r['labels']} labels | {what} | test error "
                        f"{100 * r['test_error']:.1f} % (unlabelled {100 * r['unlabelled_error']:.1f} %) | "
                        f"{r['fit_s']:.0f} | `{cmd}` |")  # fmt: skip
        elif r["benchmark"] == "vi_ssl_m2_curve":
            errors = r["test_error"]
            best = min(range(len(errors)), key=errors.__getitem__)
            what = f"ssvae_m2 sgvb{', analytic KL' if r.get('analytic_kl') else ''}, {len(errors)} epochs"
            figure = (f"test error after epoch {best + 1}: {100 * errors[best]:.1f} % (the best); after the last: "
                      f"{100 * errors[-1]:.1f} %; by epoch: {', '.join(f'{100 * e:.1f}' for e in errors)}")  # fmt: skip
            rows.append(f"| MNIST, {r['labels']} labels | {what} | {figure} | {r['fit_s']:.0f} | `{r['command']}` |")
        elif r["benchmark"] == "vi_ssl_m2_diagnose":
            fit = r["fit"]
            what = f"ssvae_m2 sgvb, analytic KL, {fit['steps']} steps: what the classifier learned"
            figure = (f"on {r['images']} test images: q(y\\|x) error {100 * r['q_error']:.1f} %, the generative "
                      f"model's argmax_k ELBO(x, k) error {100 * r['generative_error']:.1f} % (agreement "
                      f"{100 * r['agreement']:.1f} %); ELBO spread over k {r['bound_spread_median']:.1f} nats "
                      f"(median); q's entropy {r['q_entropy_mean']:.2f} nats (uniform: 2.30), largest "
                      f"probability {r['q_max_mean']:.2f}")  # fmt: skip
            rows.append(f"| MNIST, 100 labels | {what} | {figure} | {fit['fit_s']:.0f} | "
                        f"`{fit['command']}`; `{cmd}` |")  # fmt: skip
    if not rows:
        return []
    head = ["### Variational inference (long runs; mean ± standard error)", "",
            "| data | model and objective | figure | fit s | command |", "|---|---|---|---|---|"]  # fmt: skip
    return [*head, *rows, ""]


BEGIN, END = "<!-- results: generated by benchmarks/report.py -->", "<!-- end of results -->"


def write_readme() -> None:
    path = Path(__file__).resolve().parent / "README.md"
    text = path.read_text()
    a, b = text.index(BEGIN) + len(BEGIN), text.index(END)
    path.write_text(text[:a] + "\n" + render() + "\n" + text[b:])


if __name__ == "__main__":
    if "--write" in sys.argv:
        write_readme()
    else:
        sys.stdout.write(render())

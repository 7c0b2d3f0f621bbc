"""Write the generated reference pages: ``docs/cli.md`` (from the click commands), ``docs/api.md`` (from
the public API's docstrings), ``docs/errors.md`` (from the golden bad cases in ``tests/golden/bad``) and
``docs/distributions.md`` (from the compiler's signature table, with an example each) and
``docs/functions.md`` (every builtin, with an example each).

    python docs/generate.py          # rewrite the three pages
    python docs/generate.py --check  # exit 1 if a page is stale (tests/test_docs.py runs this)
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def cli_page() -> str:
    from zsdsl.cli import main

    ctx = click.Context(main, info_name="zsdsl", terminal_width=100, max_content_width=100)
    out = ["# Command-line reference", "", "Generated from the commands themselves (`python docs/generate.py`); "
           "`zsdsl COMMAND --help` prints the same.", ""]  # fmt: skip
    for name in sorted(main.list_commands(ctx)):
        cmd = main.get_command(ctx, name)
        sub = click.Context(cmd, info_name=name, parent=ctx, terminal_width=100, max_content_width=100)
        out += [f"## `zsdsl {name}`", "", "```text", cmd.get_help(sub).replace("\b\n", ""), "```", ""]
    return "\n".join(out)


API = [
    ("zsdsl", ["load", "loads"]),
    ("zsdsl.runtime.compiled", ["CompiledModel"]),
    ("zsdsl.runtime.mcmc.sampler", ["MCMCResult"]),
    ("zsdsl.runtime.vi.train", ["FitResult"]),
    ("zsdsl.runtime.posterior", ["Derived", "derive", "inference_data"]),
    ("zsdsl.runtime.lib.model_base", ["ModelBase", "GuideBase"]),
]


def api_page() -> str:
    import importlib

    out = ["# Python API reference", "", "Generated from the docstrings (`python docs/generate.py`). Start with "
           "`zsdsl.load(path)`; the tutorial (`docs/tutorial.md`) shows the calls in use.", ""]  # fmt: skip
    for module_name, names in API:
        module = importlib.import_module(module_name)
        for name in names:
            obj = getattr(module, name)
            out += [f"## `{module_name}.{name}`", ""]
            out += _entry(name, obj)
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if attr.startswith("_") or not (inspect.isfunction(member) or isinstance(member, property)):
                        continue
                    out += [f"### `{name}.{attr}`", ""] + _entry(attr, member)
    return "\n".join(out)


def _entry(name: str, obj) -> list[str]:
    doc = inspect.getdoc(obj.fget if isinstance(obj, property) else obj) or "(no docstring)"
    sig = ""
    if inspect.isfunction(obj):
        sig = f"{name}{inspect.signature(obj)}".replace("self, ", "").replace("(self)", "()")
    elif inspect.isclass(obj):
        try:
            sig = f"{name}{inspect.signature(obj)}"
        except (TypeError, ValueError):
            sig = name
    lines = [f"```text\n{sig}\n```", ""] if sig else []  # a signature, not a block to run
    return lines + [doc, ""]


def errors_page() -> str:
    bad = sorted((ROOT / "tests" / "golden" / "bad").glob("*.zs"))
    out = ["# Error catalogue", "", "The errors a model file can get, each with an example as `zsdsl check` prints it "
           "(generated from the golden cases in `tests/golden/bad` by `python docs/generate.py`). An error names "
           "its kind, and points at the span with a caret; `zsdsl check` lists every error of a stage.", "",
           "Errors of runs, options and data (not of model files) are one line, headed by their kind: see "
           "`docs/runs.md` and `docs/formats.md`.", ""]  # fmt: skip
    by_kind: dict[str, list[tuple[str, str, str]]] = {}
    for path in bad:
        expected = path.with_suffix(".expected").read_text().rstrip("\n")
        kind = expected.splitlines()[0].split(": ", 1)[-1] if ": " in expected.splitlines()[0] else "error"
        shown = expected.replace("tests/golden/bad/", "")
        by_kind.setdefault(kind, []).append((path.stem.replace("_", " "), path.read_text().rstrip("\n"), shown))
    for kind in sorted(by_kind):
        out += [f"## {kind}", ""]
        for title, source, shown in by_kind[kind]:
            out += [f"### {title}", "", "```text", source, "```", "", "```text", shown, "```", ""]
    return "\n".join(out)


PAGES = {"cli.md": cli_page, "api.md": api_page, "errors.md": errors_page}


def main(argv: list[str]) -> int:
    stale = []
    for name, make in PAGES.items():
        text = make().rstrip("\n") + "\n"
        path = DOCS / name
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale: {', '.join(stale)}; run python docs/generate.py", file=sys.stderr)
        return 1
    return 0


ARG = {("real", 0): "0.5", ("real", 1): "zeros(3)", ("positive", 0): "2.0", ("positive", 1): "ones(3)",
       ("unit_closed", 0): "0.3", ("simplex", 1): "full(3, 1.0 / 3)", ("int_nonneg", 0): "10",
       ("lower_cholesky", 2): "eye(3)", ("pos_def", 2): "eye(3)"}  # fmt: skip
SPECIAL_ARGS = {"Uniform": "0, 1", "LKJCholesky": "3, 2.0", "Multinomial": "10, probs=full(3, 1.0 / 3)"}
DATA_DECL = {"boolean": "int[N] in {0, 1}", "int_nonneg": "int[N] in [0, inf)", "int_range": "int[N] in [0, 3)",
             "one_hot": "int[N, 3] in {0, 1}", "count_vector": "int[N, 3] in [0, inf)"}  # fmt: skip


def distribution_example(d) -> str:
    """A small model that uses ``d``: a latent for a continuous distribution, observed data for a discrete one."""
    if d.name in SPECIAL_ARGS:
        args = SPECIAL_ARGS[d.name]
    else:
        skip = {g[i] for g in d.alternatives for i in range(1, len(g))}  # the first of each alternative group
        args = ", ".join(f"{p.name}={ARG[(p.support, p.event_rank)]}" for p in d.params
                         if p.default is None and p.name not in skip)  # fmt: skip
    if d.name == "Implicit":  # observed data generated from latents (its critic: docs/language.md)
        return "data:\n  x: real[N]\nplate n in N:\n  z[n] ~ Normal(0, 1)\n  x[n] ~ Implicit(2.0 * z[n])\n"
    if d.discrete:
        return f"data:\n  y: {DATA_DECL[d.support]}\nplate n in N:\n  y[n] ~ {d.name}({args})\n"
    decl = {"interval": ": real in (0, 1)"}.get(d.support, "")
    return f"x{decl} ~ {d.name}({args})\n"


def distributions_page() -> str:
    from zsdsl.compiler.signatures import DISTRIBUTIONS

    out = ["# Distributions", "", "Generated from the compiler's signature table (`zsdsl/compiler/signatures.py`) "
           "by `python docs/generate.py`; each example compiles (`tests/test_docs.py`). Arguments are positional "
           "in the order listed, or by keyword; of the arguments joined by `|` give exactly one.", ""]  # fmt: skip
    for d in DISTRIBUTIONS.values():
        params = []
        for p in d.params:
            text = f"`{p.name}` ({p.support}{', per draw a vector' if p.event_rank == 1 else ''}"
            text += ", a matrix" if p.event_rank == 2 else ""
            text += f", default {p.default:g})" if p.default is not None else ")"
            params.append(text)
        groups = " ; ".join(" | ".join(f"`{n}`" for n in g) for g in d.alternatives)
        kind = "discrete" if d.discrete else ("continuous, reparameterised" if d.reparam else "continuous")
        out += [f"## {d.name}", ""] + ([d.doc[0].upper() + d.doc[1:] + ".", ""] if d.doc else [])
        out += [f"- Arguments: {', '.join(params) or 'none'}."]
        if groups:
            out += [f"- Exactly one of: {groups}."]
        out += [f"- Values: {d.support} ({kind}{'; can be enumerated' if d.finite else ''}).", "", "```zs",
                distribution_example(d).rstrip("\n"), "```", ""]  # fmt: skip
    return "\n".join(out)


PAGES["distributions.md"] = distributions_page


# One example per builtin: (expression, what it gives). A builtin without one fails the page (and its test).
FUNCTIONS = {
    "to_real": ("to_real(k)", "an integer as a real"),
    "exp": ("exp(x)", ""), "log": ("log(p)", ""), "log10": ("log10(p)", "base-10 logarithm"),
    "log2": ("log2(p)", "base-2 logarithm"), "log1p": ("log1p(p)", "log(1 + p), accurate near 0"),
    "expm1": ("expm1(x)", "exp(x) - 1, accurate near 0"), "sqrt": ("sqrt(p)", ""), "square": ("square(x)", ""),
    "abs": ("abs(x)", ""), "sin": ("sin(x)", ""), "cos": ("cos(x)", ""), "tanh": ("tanh(x)", ""),
    "sigmoid": ("sigmoid(x)", "1 / (1 + exp(-x))"), "inv_logit": ("inv_logit(x)", "Stan's name for sigmoid"),
    "logit": ("logit(p)", "log(p / (1 - p))"), "softplus": ("softplus(x)", "log(1 + exp(x))"),
    "relu": ("relu(x)", "max(x, 0)"), "log_sigmoid": ("log_sigmoid(x)", ""), "lgamma": ("lgamma(p)", "log Γ"),
    "digamma": ("digamma(p)", ""), "erf": ("erf(x)", ""),
    "pow": ("pow(p, 2)", "elementwise power (also p ** 2)"), "minimum": ("minimum(x, 0)", "elementwise"),
    "maximum": ("maximum(v, 0)", "elementwise"), "log_sum_exp": ("log_sum_exp(x, 0)", "log(exp(a) + exp(b))"),
    "log_mix": ("log_mix(p, x, 0)", "log(p exp(a) + (1 - p) exp(b)), Stan's"),
    "where": ("where(x > 0, x, 0)", "elementwise choice on a comparison"),
    "sum": ("sum(X, dim=0)", "over one element dim (dim=), or over all of them (sum(X))"),
    "mean": ("mean(v)", ""), "prod": ("prod(w)", ""), "max": ("max(X, dim=-1)", "dim=-1: the last dim"),
    "min": ("min(v)", ""), "logsumexp": ("logsumexp(v)", "log Σ exp; also log_sum_exp(v), Stan's name"),
    "sd": ("sd(v)", "sample standard deviation (n - 1), Stan's"), "variance": ("variance(X, dim=0)", "(n - 1)"),
    "cumsum": ("cumsum(v)", "running sum along dim= (default the last)"),
    "softmax": ("softmax(X, dim=1)", "exp(x) / Σ exp along dim= (default the last)"),
    "log_softmax": ("log_softmax(v)", "x - log Σ exp(x) along dim= (default the last)"),
    "norm": ("norm(v)", "Euclidean"),
    "zeros": ("zeros(3)", "sizes as arguments"), "ones": ("ones(3, 2)", ""), "full": ("full(3, 0.5)", ""),
    "eye": ("eye(3)", "identity matrix"), "arange": ("arange(3)", "0, 1, 2"),
    "concat": ("concat(v, w)", "along the last dim: here 6 long"), "stack": ("stack(x, p)", "a new last dim"),
    "one_hot": ("one_hot(k, 3)", "a vector with a 1 at k (0-based)"), "dot": ("dot(v, w)", "also v @ w"),
    "matvec": ("matvec(M, v)", "also M @ v"), "matmul": ("matmul(M, M)", "also M @ M"),
    "cholesky": ("cholesky(M @ transpose(M) + eye(3))", "lower factor"), "transpose": ("transpose(X)", ""),
    "diag": ("diag(w)", "a diagonal matrix"), "inverse": ("inverse(M + 3 * eye(3))", ""),
    "solve": ("solve(M + 3 * eye(3), v)", "A⁻¹ b without the inverse"),
    "log_determinant": ("log_determinant(M + 3 * eye(3))", "log |det A|"),
    "exp_quad_kernel": ("exp_quad_kernel(t, t, 1.0, 0.5)",
                        "Stan's gp_exp_quad_cov(x1, x2, alpha, rho): α² exp(-d²/2ρ²)"),
    "matern32_kernel": ("matern32_kernel(t, t, 1.0, 0.5)", "Stan's gp_matern32_cov: α² (1 + √3 d/ρ) exp(-√3 d/ρ)"),
    "matern52_kernel": ("matern52_kernel(t, t, 1.0, 0.5)",
                        "Stan's gp_matern52_cov: α² (1 + √5 d/ρ + 5d²/3ρ²) exp(-√5 d/ρ)"),
    "exponential_kernel": ("exponential_kernel(t, t, 1.0, 0.5)", "Stan's gp_exponential_cov: α² exp(-d/ρ)"),
    "periodic_kernel": ("periodic_kernel(t, t, 1.0, 0.5, 2.0)",
                        "Stan's gp_periodic_cov(x, α, ρ, p): α² exp(-2 sin²(π d/p)/ρ²)"),
    "gp_exp_quad_cov": ("gp_exp_quad_cov(t, 1.0, 0.5)", "Stan's name: exp_quad_kernel(x, x, ...) (or x1, x2)"),
    "cov_exp_quad": ("cov_exp_quad(t, 1.0, 0.5)", "Stan's older name of gp_exp_quad_cov"),
    "gp_matern32_cov": ("gp_matern32_cov(t, 1.0, 0.5)", "Stan's name: matern32_kernel"),
    "gp_matern52_cov": ("gp_matern52_cov(t, 1.0, 0.5)", "Stan's name: matern52_kernel"),
    "gp_exponential_cov": ("gp_exponential_cov(t, 1.0, 0.5)", "Stan's name: exponential_kernel"),
    "gp_periodic_cov": ("gp_periodic_cov(t, 1.0, 0.5, 2.0)", "Stan's name: periodic_kernel"),
    "ard_kernel": ("ard_kernel(X, Z, 1.0, w[:2])", "squared exponential, a lengthscale per input dim"),
    "gp_conditional_mean": ("gp_conditional_mean(X[0], Z, u, 1.0, w[:2])",
                            "SVGP predictive mean at x (a 6th argument, the noise variance: the exact GP's)"),
    "gp_conditional_var": ("gp_conditional_var(X[0], Z, 1.0, w[:2])",
                           "SVGP predictive variance at x (a 5th argument, the noise variance: the exact GP's)"),
    "hmm_marginal": ("hmm_marginal(transpose(stack(t, t, t)), M * M + 1, w)",
                     "Stan's: log p(y) of an HMM (log_omega [K, N], Gamma [K, K], rho [K]), forward algorithm"),
    "quad_form": ("quad_form(M @ transpose(M), v)", "Stan's: x'A x (B'A B for a matrix B)"),
    "quad_form_diag": ("quad_form_diag(M, w)", "Stan's: diag(v) M diag(v)"),
    "dot_self": ("dot_self(v)", "Stan's: x'x"),
    "recurrence": ("recurrence(p, b, 0.0)", "s[0] = init, s[t] = a s[t-1] + b[t-1]; GARCH, AR filters"),
}  # fmt: skip

FUNCTION_CONTEXT = """data:
  k: int in [0, 3)
  v: real[3]
  w: real[3] in (0, inf)
  M: real[3, 3]
  X: real[5, 2]
  Z: real[4, 2]
  u: real[4]
  t: real[6]
  b: real[6]
x ~ Normal(0, 1)
p: real in (0, 1) ~ Beta(2, 2)
"""


def function_example(expr: str) -> str:
    return FUNCTION_CONTEXT + f"e = {expr}\n"


def functions_page() -> str:
    from zsdsl.compiler.builtins import known_functions

    missing = sorted(set(known_functions()) - set(FUNCTIONS))
    if missing:
        raise SystemExit(f"docs/generate.py: give an example for the builtin(s) {', '.join(missing)}")
    out = ["# Builtin functions", "", "Every builtin with an example, generated by `python docs/generate.py` (each "
           "example compiles: `tests/test_docs.py`). The examples read these declarations:", "", "```zs",
           FUNCTION_CONTEXT.rstrip("\n"), "```", "", "Elementwise functions broadcast like NumPy; reductions "
           "(`sum`, `mean`, `prod`, `max`, `min`, `logsumexp`/`log_sum_exp`, `sd`, `variance`) take all element "
           "dims, or one with `dim=` (an integer; `dim=-1` is the last), and inside a plate work per element; "
           "`cumsum`, `softmax` and `log_softmax` keep the shape and run along `dim=` (default the last).", "",
           "| function | example | gives |",
           "|---|---|---|"]  # fmt: skip
    for name in known_functions():
        expr, what = FUNCTIONS[name]
        out.append(f"| `{name}` | `{expr}` | {what} |")
    return "\n".join(out)


PAGES["functions.md"] = functions_page


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

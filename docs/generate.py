"""Write the generated reference pages: ``docs/cli.md`` (from the click commands), ``docs/api.md`` (from
the public API's docstrings) and ``docs/errors.md`` (from the golden bad cases in ``tests/golden/bad``).

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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

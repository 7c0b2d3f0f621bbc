"""``graph_dot(ir.ProgramIR) -> str``: the model's DAG in Graphviz DOT, like Pyro's ``render_model``.

Plates are clusters (boxes labelled "n in N"), observed nodes shaded, latents
plain ellipses, deterministic nodes dashed, params and nets as boxes.
``render(dot, path)`` writes .dot, or .svg/.png through the ``dot`` program.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from zsdsl.compiler import ir
from zsdsl.errors import OptionError


def _q(s: str) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def graph_dot(program: ir.ProgramIR) -> str:
    lines = [f"digraph {_q(program.name)} {{", "  rankdir=TB;", '  node [fontname="Helvetica"];']
    by_plate: dict[tuple, list[str]] = {}
    edges: list[tuple[str, str]] = []
    for p in program.params:
        by_plate.setdefault((), []).append(f"{_q(p.name)} [shape=box, style=rounded];")
    for n in program.nets:
        by_plate.setdefault((), []).append(f"{_q(n.name)} [shape=box, label={_q(n.name + ': ' + n.ctor)}];")
    for node in program.nodes:
        plates = node.ty.plates
        if isinstance(node, ir.SampleNode):
            style = 'style=filled, fillcolor="#d9d9d9"' if node.observed else "style=solid"
            label = f"{node.name} ~ {node.dist.name}"
            by_plate.setdefault(plates, []).append(f"{_q(node.name)} [shape=ellipse, {style}, label={_q(label)}];")
        elif isinstance(node, ir.DetNode):
            by_plate.setdefault(plates, []).append(f"{_q(node.name)} [shape=ellipse, style=dashed];")
        else:
            by_plate.setdefault(plates, []).append(f'{_q(node.name)} [shape=diamond, label="factor"];')
        for dep in node.deps:
            edges.append((dep, node.name))
    shown = {line.split(" ")[0].strip('"') for items in by_plate.values() for line in items}
    for items in by_plate.get((), []):
        lines.append("  " + items)
    _clusters(program, by_plate, lines)
    for a, b in sorted(set(edges)):
        if a in shown:
            lines.append(f"  {_q(a)} -> {_q(b)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _clusters(program, by_plate, lines) -> None:
    sizes = {p.name: p for p in program.plates}

    def open_cluster(prefix: tuple, depth: int):
        children = sorted({k[len(prefix)] for k in by_plate if len(k) > len(prefix) and k[: len(prefix)] == prefix})
        for name in children:
            key = (*prefix, name)
            p = sizes[name]
            ind = "  " * (depth + 1)
            sub = f", subsample={p.subsample}" if p.subsample else ""
            lines.append(f"{ind}subgraph {_q('cluster_' + '_'.join(key))} {{")
            lines.append(f"{ind}  label={_q(f'{name} in {p.size}{sub}')}; labeljust=r; labelloc=b;")
            for item in by_plate.get(key, []):
                lines.append(f"{ind}  {item}")
            open_cluster(key, depth + 1)
            lines.append(f"{ind}}}")

    open_cluster((), 0)


def render(dot: str, out: str | Path) -> Path:
    """Write DOT text, or SVG/PNG when Graphviz's ``dot`` is installed."""
    out = Path(out)
    fmt = out.suffix.lower().lstrip(".")
    if fmt in ("dot", "gv"):
        out.write_text(dot)
        return out
    if fmt not in ("svg", "png", "pdf"):
        raise OptionError(f"Unknown graph format '.{fmt}'; use .dot, .svg or .png.")
    exe = shutil.which("dot")
    if exe is None:
        raise OptionError(
            f"Rendering .{fmt} needs Graphviz's 'dot' program, which is not installed "
            "(e.g. 'apt-get install graphviz'); write a .dot file instead."
        )
    proc = subprocess.run([exe, f"-T{fmt}", "-o", str(out)], input=dot.encode(), capture_output=True, check=False)
    if proc.returncode != 0:
        raise OptionError(f"Graphviz failed: {proc.stderr.decode(errors='replace').strip()}")
    return out

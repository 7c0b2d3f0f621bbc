"""``verify_ir``: invariants of the IR, checked after every pass in tests.

Defined before use (so the graph is acyclic), unique names, every latent with a
support, every continuous latent with a bijector, plates known. Violations are
``InternalError``s: they are compiler bugs, not user errors.
"""

from __future__ import annotations

from zsdsl.compiler import ir
from zsdsl.errors import InternalError


def verify_ir(program: ir.ProgramIR) -> None:
    defined = {d.name for d in program.data} | {d.name for d in program.dims}
    defined |= {p.name for p in program.params} | {n.name for n in program.nets}
    plates = {p.name for p in program.plates}
    for p in program.plates:
        if p.parent is not None and p.parent not in plates:
            raise InternalError(f"plate {p.name!r} has unknown parent {p.parent!r}")
    _verify_nodes(program.nodes, set(defined), plates, "model")
    model_names = defined | {n.name for n in program.nodes}
    for g in program.guides:
        gdefined = {d.name for d in program.data} | {d.name for d in program.dims}
        gdefined |= {p.name for p in g.params} | {n.name for n in g.nets}
        _verify_nodes(g.nodes, gdefined, plates, f"guide {g.name}", guide=True)
    _verify_nodes(program.generated, model_names, plates, "generated")


def _verify_nodes(nodes, defined: set, plates: set, where: str, guide: bool = False) -> None:
    seen: set[str] = set()
    for node in nodes:
        for dep in node.deps:
            if dep not in defined and dep not in plates:
                raise InternalError(f"{where}: {node.name!r} reads {dep!r} before it is defined")
        for p in node.ty.plates:
            if p not in plates:
                raise InternalError(f"{where}: {node.name!r} is in unknown plate {p!r}")
        if isinstance(node, ir.SampleNode) and not node.observed:
            if node.support is None:
                raise InternalError(f"{where}: latent {node.name!r} has no support")
            if not node.discrete and node.bijector is None:
                raise InternalError(f"{where}: continuous latent {node.name!r} has no bijector")
        observes_det = isinstance(node, ir.SampleNode) and node.observed and node.name in seen
        if not isinstance(node, ir.FactorNode) and not observes_det:
            if node.name in seen and not guide:
                raise InternalError(f"{where}: {node.name!r} defined twice")
            seen.add(node.name)
            defined.add(node.name)

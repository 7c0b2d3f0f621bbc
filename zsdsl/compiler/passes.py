"""IR → IR passes run after checking: dead-net pruning (nets never called are dropped).

Bijector choice happens in the checker (``supports.py``) where the declarations are
at hand; each pass here returns a new IR and ``verify_ir`` holds after each.
"""

from __future__ import annotations

from zsdsl.compiler import ir


def prune_unused_nets(program: ir.ProgramIR) -> ir.ProgramIR:
    used = set()
    for node in (*program.nodes, *program.generated):
        used |= ir.expr_refs(node.expr if not isinstance(node, ir.SampleNode) else node.dist)
    nets = tuple(n for n in program.nets if n.name in used)
    guides = []
    for g in program.guides:
        gused = set()
        for node in g.nodes:
            gused |= ir.expr_refs(node.expr if not isinstance(node, ir.SampleNode) else node.dist)
        guides.append(g.model_copy(update={"nets": tuple(n for n in g.nets if n.name in gused)}))
    return program.model_copy(update={"nets": nets, "guides": tuple(guides)})


PASSES = (prune_unused_nets,)


def run_passes(program: ir.ProgramIR, verify=None) -> ir.ProgramIR:
    for p in PASSES:
        program = p(program)
        if verify is not None:
            verify(program)
    return program

"""Checking a ``critic NAME:`` block and the implicit sites it judges (adversarial training).

A model site ``x[n] ~ Implicit(G(z[n]))`` is observed data that the model generates with no density.
A critic has its own ``nets:``/``params:``, ``=`` lines and plates, and exactly one ``score EXPR``: a
real number per element of the implicit site's plates (a logit for ``--infer gan``, a critic value for
``--infer wgan-gp``). It reads the implicit sites, dims and its own params and nets, and no other data:
the engine scores a minibatch of generated values in the data's place (a conditional critic, which
would also read labels, is not supported yet and is refused here).
"""

from __future__ import annotations

from zsdsl.compiler import ir
from zsdsl.compiler.scope import Scope
from zsdsl.compiler.shapes import fmt_shape
from zsdsl.errors import NameError_, ShapeError, SupportError, TypeError_
from zsdsl.grammar import ast as A


def note_implicit(checker, s: A.Sample, observed: bool, guide, plates) -> None:
    """Record an ``Implicit`` site of the model; one that is latent or in a guide is an error."""
    if guide is not None:
        raise SupportError("Implicit(...) has no density, so a guide cannot use it: give the latent a distribution.",
                           s.dist.span)  # fmt: skip
    if not observed:
        name = s.target.name
        raise SupportError(f"Implicit(...) is for observed data (declare '{name}' in data:); a latent computed "
                           f"from others is a deterministic line: {name} = ...", s.dist.span)  # fmt: skip
    checker.implicit[s.target.name] = tuple(plates)


def check_critic(checker, g: A.Guide, net_node) -> ir.GuideIR:
    """The critic's IR (a ``GuideIR`` with role "critic"); its nodes end with the ``score`` node.
    ``net_node`` makes a net's IR node (``check._net_node``, passed in: check imports this module)."""
    if not checker.implicit:
        raise TypeError_(f"Critic '{g.name}' has nothing to judge: the model has no implicit site "
                         "(x[n] ~ Implicit(generator(z[n])), event=[...]).", g.span)  # fmt: skip
    outer = checker.scope
    scope = Scope.for_block(outer)
    saved = (checker.scope, checker.ex.scope, checker.nets, checker.ex.nets, checker.critic)
    checker.scope = checker.ex.scope = scope
    nets: dict = {}
    checker.nets = checker.ex.nets = nets
    checker.critic = {"name": g.name, "scores": []}
    try:
        params = [x for x in (checker.col.run(checker._param_decl, d, scope) for d in g.params) if x]
        for n in g.nets:
            checker.col.run(checker._net_decl, n, scope, nets)
        before = len(checker.col.errors)
        nodes = checker._block(g.body, (), guide=g.name)
        if len(checker.col.errors) == before:
            if not checker.critic["scores"]:
                raise TypeError_(f"Critic '{g.name}' has no score line: end it with `score EXPR`, one real number "
                                 "per element (e.g. score disc(x[n])[0] inside the site's plate).", g.span)  # fmt: skip
            _reads_only_implicit(checker, g, nodes, outer)
        return ir.GuideIR(name=g.name, role="critic", params=tuple(params),
                          nets=tuple(net_node(i) for i in nets.values()), nodes=tuple(nodes))  # fmt: skip
    finally:
        checker.scope, checker.ex.scope, checker.nets, checker.ex.nets, checker.critic = saved


def score_node(checker, s: A.Score, E) -> ir.FactorNode:
    critic = checker.critic
    if critic is None:
        raise TypeError_("`score` belongs in a critic block (critic NAME:).", s.span)
    if critic["scores"]:
        raise TypeError_(f"Critic '{critic['name']}' has one score line; this is a second one.", s.span)
    x = checker.ex.expr(s.value, E)
    if x.ty.dtype == "bool" or x.ty.shape != ():
        got = "a comparison" if x.ty.dtype == "bool" else f"shape {fmt_shape(x.ty.shape)}"
        raise ShapeError(f"A critic's score is one real number per element; this one is {got} (index it, e.g. "
                         "disc(x[n])[0]).", s.span)  # fmt: skip
    site, plates = next(iter(checker.implicit.items()))
    if tuple(E) != plates:
        where = f"plate(s) {', '.join(plates)}" if plates else "the top level"
        raise ShapeError(f"The score belongs in {where}, where the implicit site '{site}' is.", s.span)
    critic["scores"].append(s)
    return ir.FactorNode(name="score", expr=x, ty=x.ty, deps=tuple(sorted(ir.expr_refs(x))))


def _reads_only_implicit(checker, g: A.Guide, nodes, outer) -> None:
    for node in nodes:
        for name in sorted(node.deps):
            sym = outer.lookup(name)
            if sym is not None and sym.role == "data" and name not in checker.implicit:
                implicit = ", ".join(repr(n) for n in checker.implicit)
                raise NameError_(f"Critic '{g.name}' reads the data '{name}'; a critic reads the implicit site(s) "
                                 f"{implicit} only (conditional critics are not supported yet).", g.span)  # fmt: skip

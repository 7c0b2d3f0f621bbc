"""Emission of a ``critic NAME:`` block: a ``zl.CriticBase`` subclass whose ``_score(data, subsample)``
returns the score of each element of the implicit site's plates, for the minibatch ``subsample``
names (the engine passes generated values in the implicit site's place, with indices 0..B-1).
Unlike a guide's factor terms, scores are not scaled by N/B: adversarial losses average them."""

from __future__ import annotations

from zsdsl.compiler import ir


def emit_critic(program: ir.ProgramIR, critic: ir.GuideIR, w, base, _used, class_name) -> None:
    """Write the critic's class; ``base`` is emit.py's statement emitter, ``_used`` and ``class_name``
    its helpers (passed in: emit.py imports this module)."""

    class _CriticEmitter(base):
        def emit(self) -> None:
            w()
            w(f"class {class_name(critic.name, 'Critic')}(zl.CriticBase):")
            w(f'"""Critic {critic.name!r}: the score of each element of the implicit site(s)."""', 1)
            w()
            w(f"name = {critic.name!r}", 1)
            w(f"implicit = {_implicit_sites(program)!r}", 1)
            w()
            self.emit_init(1)
            w("def _score(self, data, subsample):", 1)
            w('"""Per-element scores ([B] for a plate of B elements in ``subsample``)."""', 2)
            w("d = self.dims", 2)
            self.emit_params(2)
            self.emit_data(2, _used(critic.nodes))
            self.walk(critic.nodes, self._node)

        def _node(self, node, E) -> None:
            if isinstance(node, ir.DetNode) and isinstance(node.expr, ir.Scan):
                self.emit_scan(node, 2, cache=False)
            elif isinstance(node, ir.DetNode):
                w(f"{self.local(node.name)} = {self.ex.emit(node.expr, E)}", 2)
            else:  # the score, the critic's last node
                w(f"return {self.factor_code(node, E)}", 2)

    emitter = _CriticEmitter(program, w, critic.nets, critic.params)
    emitter.sampling = False
    emitter.emit()


def _implicit_sites(program: ir.ProgramIR) -> tuple[str, ...]:
    return tuple(n.name for n in program.nodes if isinstance(n, ir.SampleNode) and n.observed
                 and n.dist.name == "Implicit")  # fmt: skip

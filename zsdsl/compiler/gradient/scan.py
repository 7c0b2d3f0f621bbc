"""Lowering a ``scan`` to the primitive form: one ``scan`` operation holding the step's own primitives.

The step is lowered once, by the same ``Lowering`` with a builder of its own (``ScanSpec.ops``): its
inputs are the index ``t`` (an integer, no adjoint), the carries (one value each) and the values of the
model it reads (``captured``, under their names in the enclosing function, so the step reads them as a
closure). The outer graph gets a ``scan`` operation over the carries' first values and the captured
values, and one ``scan_get`` per carry (its last value) or output (stacked over the steps) that is read.
``emit_scan`` prints the forward loop (keeping each step's values) and the adjoint loop run back over
the steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zsdsl.compiler import ir
from zsdsl.compiler.gradient.graph import Builder, Unsupported, Val


@dataclass
class ScanSpec:
    key: str  # a name for the generated locals (s1, s2, ...)
    ops: list  # the step's operations
    index: Val
    carries_in: list
    carries_out: list
    outputs: list
    captured: list  # (outer value, the step's input of the same name)
    names: list  # carries then outputs: the positions of scan_get
    gets: dict = field(default_factory=dict)  # position -> the scan_get value


def lower_scan(low, e: ir.Scan, E, math_factory) -> Val:
    """The ``scan`` value of ``e`` in ``low``'s builder (see the module docstring)."""
    if E:
        raise Unsupported(f"a scan inside a plate ({low.where()})")
    outer_b, outer_m, outer_values = low.b, low.m, low.values
    start, stop = low.expr(e.start, ()), low.expr(e.stop, ())
    inits = [low.expr(x, ()) for _, x in e.carries]
    captured = _captured(low, e)
    sb = Builder()
    sb._count = outer_b._count + 1
    key = f"s{sb._count}"
    sb._count += 1
    index = Val(sb, f"c{sb._count}", (), 0, "int", True)
    carries_in = []
    for init in inits:
        sb._count += 1
        carries_in.append(Val(sb, f"v{sb._count}", init.shape, 0, init.dtype if init.dtype != "int" else "real",
                              False))  # fmt: skip
    inner = {name: Val(sb, v.name, v.shape, 0, v.dtype, v.data, v.const) for name, v in captured.items()}
    values = dict(outer_values)
    values.update({name: (v, ()) for name, v in inner.items()})
    values[e.index] = (index, ())
    values.update({name: (v, ()) for (name, _), v in zip(e.carries, carries_in, strict=True)})
    low.b, low.m, low.values = sb, math_factory(sb), values
    outputs = []
    try:
        for step in e.body:
            v = sb.lift(low.expr(step.expr, ()))
            values[step.name] = (v, ())
            if step.role == "output":
                outputs.append(v)
    finally:
        low.b, low.m, low.values = outer_b, outer_m, outer_values
        outer_b._count = sb._count + 1
    carries_out = [values[name][0] for name, _ in e.carries]
    pairs = [(captured[n], inner[n]) for n in captured]
    names = [c for c, _ in e.carries] + [s.name for s in e.body if s.role == "output"]
    spec = ScanSpec(key, sb.ops, index, carries_in, carries_out, outputs, pairs, names)
    args = (start, stop, *inits, *(outer for outer, _ in pairs))
    out = outer_b.emit("scan", args, (), 0, "tuple", (key,), data=False)
    outer_b._producer[out.name].spec = spec
    return out


def _captured(low, e: ir.Scan) -> dict:
    """The model's values the body reads (data fields bound in ``make``), by name, in the outer builder."""
    out = {}
    for rec in ir.walk(e.body):
        if isinstance(rec, ir.Ref) and rec.role not in (*ir.LOOP_ROLES, "dim") and rec.name not in out:
            v = low._ref(rec, ())
            if v.lead:
                raise Unsupported(f"a scan reading a value in plates ({low.where()})")
            out[rec.name] = v
        elif isinstance(rec, (ir.NetCall, ir.ScanOut)):
            raise Unsupported(f"a {type(rec).__name__} inside a scan ({low.where()})")
    return out


def lower_scan_out(low, e: ir.ScanOut) -> Val:
    scan = low.values[e.scan][0]
    spec: ScanSpec = low.b._producer[scan.name].spec
    k = spec.names.index(e.name)
    dtype = "real" if k < len(spec.carries_in) else spec.outputs[k - len(spec.carries_in)].dtype
    v = low.b.emit("scan_get", (scan,), tuple(e.ty.shape), 0, dtype if dtype != "int" else "real", (k,))
    spec.gets[k] = v
    return v

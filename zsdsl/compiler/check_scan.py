"""Checking ``scan``: a loop with carried state (Stan's ``for`` over time, NumPyro's ``scan``).

    scan t in range(1, T), err = y[0] - mu:      # the index, its steps, the carries and their first values
        nu = mu + phi * y[t - 1] + theta * err   # a local: this step's value
        err = y[t] - nu                          # a carry's next value (later lines of the step read it)
        errs[t] = err                            # an output: stacked over the steps after the loop
        factor logpdf(Normal(0, sigma), err)     # a log-density term per step, summed

After the loop each output is a value with the steps as its leading dim (``errs[0]`` is the first step,
t = 1 here) and each carry holds its last value; both are usable by later statements. Outputs are
reported with the draws (unless ``, hidden``), carries' last values are not. The steps run at the top
level of the model, a guide or ``generated:``, never inside a plate (a carry may be a vector or matrix).

``check_scan`` returns the IR nodes: one hidden ``DetNode`` whose expression is the ``ir.Scan`` (named
``scan@LINE``, which no spec name can be), a ``DetNode`` per output and carry reading it through
``ir.ScanOut``, and a ``FactorNode`` per ``factor`` of the body. An index of the form ``t + c`` is checked
against the dimension it indexes at the first and last steps: at compile time where the sizes decide it,
else when the data are bound (``Scan.bounds``).
"""

from __future__ import annotations

from zsdsl.compiler import ir
from zsdsl.compiler.scope import Scope, Sym
from zsdsl.compiler.shapes import dim_op, fmt_ty
from zsdsl.errors import NameError_, ShapeError, TypeError_
from zsdsl.grammar import ast as A

NOT_IN_SCAN = (
    "'~' cannot appear inside a scan: collect the step's value as an output (mu[t] = ...) and write "
    "'y ~ Normal(mu, sigma)' after the loop, which keeps y's predictive draws; a log density computed per step "
    "is 'factor logpdf(Normal(mu_t, sigma), y[t])'."
)


def check_scan(pc, s: A.Scan, E, generated: bool, guide) -> list:
    """Check ``s`` with the program checker ``pc`` (its scope, expression checker and error collector)."""
    if E:
        raise ShapeError(
            f"A scan runs at the top level, not inside plate '{E[-1]}': carry the plate's values as a vector "
            "(carries and step values may be vectors and matrices).",
            s.span,
        )
    start, stop = _steps(pc, s)
    steps = dim_op("-", stop, start)
    if isinstance(steps, int) and steps <= 0:
        raise ShapeError(f"This scan runs no steps: range({start}, {stop}).", s.steps.span)
    outer = pc.scope
    for name, span in [(s.var, s.span)] + [(c.name, c.span) for c in s.carries]:
        if outer.lookup(name) is not None:
            raise NameError_(f"'{name}' is already defined; a scan's index and carries are new names.", span)
    carries, carry_syms = [], {}
    for c in s.carries:
        init = pc.ex.expr(c.init, ())
        if init.ty.dtype == "bool":
            raise TypeError_(f"The carry '{c.name}' needs a number, got a comparison.", c.init.span)
        if isinstance(init, ir.Const) and init.ty.dtype == "int":  # `s = 0` starts a real-valued carry
            init = ir.Const(value=float(init.value), ty=ir.Ty(dtype="real"))
        carries.append((c.name, init))
        carry_syms[c.name] = Sym(c.name, "carry", init.ty.dtype, init.ty.shape, span=c.span)
    inner = Scope(parent=outer, later=outer.later)
    inner.syms[s.var] = Sym(s.var, "scan_index", "int", span=s.span)
    inner.syms.update(carry_syms)
    body: list[ir.ScanStep] = []
    factors: list[str] = []
    hidden: set[str] = set()
    pc.ex.scope = inner
    failures = pc.col.failures
    try:
        for stmt in s.body:
            pc.col.run(_body_stmt, pc, s, stmt, inner, body, factors, hidden)
    finally:
        pc.ex.scope = outer
    if pc.col.failures > failures:  # the errors are collected; what the scan defines is not defined
        outer.failed.update(scan_names(s))
        return []
    scan = ir.Scan(
        index=s.var,
        start=pc.ex._dim_const(start),
        stop=pc.ex._dim_const(stop),
        carries=tuple(carries),
        body=tuple(body),
        bounds=_bounds(s, body, start, stop),
        ty=ir.Ty(dtype="real"),
    )
    return _nodes(pc, s, scan, steps, factors, hidden)


def scan_key(s: A.Scan) -> str:
    """The name of the hidden node that computes a scan (no spec name can be it)."""
    return f"scan@{s.span.line}" if s.span.line else f"scan@{id(s)}"


def scan_names(s: A.Scan) -> list[str]:
    """The names a scan defines for the statements after it: its carries and outputs."""
    outs = [t.target.name for t in s.body if isinstance(t, A.Assign) and t.target.indices]
    return [c.name for c in s.carries] + outs


def _steps(pc, s: A.Scan) -> tuple[ir.Dim, ir.Dim]:
    e = s.steps
    if isinstance(e, A.Call) and e.func == "range":
        if e.kwargs or len(e.args) not in (1, 2):
            raise TypeError_("range takes one or two sizes: range(T) or range(1, T).", e.span)
        if len(e.args) == 1:
            return 0, pc.ex.eval_dim(e.args[0])
        return pc.ex.eval_dim(e.args[0]), pc.ex.eval_dim(e.args[1])
    try:
        return 0, pc.ex.eval_dim(e)
    except ShapeError:
        raise ShapeError(
            f"A scan runs over range(a, b) or a size, e.g. 'scan {s.var} in range(1, T):'.", e.span
        ) from None


def _body_stmt(pc, s: A.Scan, stmt, inner: Scope, body: list, factors: list, hidden: set) -> None:
    if isinstance(stmt, A.Sample):
        raise TypeError_(NOT_IN_SCAN, stmt.span)
    if isinstance(stmt, (A.Plate, A.Scan)):
        what = "plate" if isinstance(stmt, A.Plate) else "scan"
        raise TypeError_(f"A {what} cannot be nested in a scan; a scan's body holds '=' and 'factor' lines.", stmt.span)
    if isinstance(stmt, A.Factor):
        x = pc.ex.expr(stmt.value, ())
        if x.ty.dtype == "bool":
            raise TypeError_("factor needs a number (a log-density term), got a comparison.", stmt.span)
        pc.n_factors += 1
        name = f"factor_{pc.n_factors}"
        factors.append(name)
        body.append(ir.ScanStep(role="output", name=name, expr=x, ty=x.ty))
        return
    t = stmt.target
    opts = pc._options(stmt.options, ("hidden",))
    if stmt.type is not None:
        raise TypeError_("Values in a scan take their type from their expression; drop the annotation.", stmt.span)
    x = pc.ex.expr(stmt.value, ())
    if t.indices:
        _output(s, stmt, x, inner, body)
        if "hidden" in opts:
            hidden.add(t.name)
        return
    if "hidden" in opts:
        raise TypeError_("'hidden' applies to a scan's outputs (name[t] = ...); locals are never reported.", stmt.span)
    sym = inner.syms.get(t.name)
    if sym is not None and sym.role == "carry":
        if tuple(x.ty.shape) != tuple(sym.shape) or (x.ty.dtype == "real") != (sym.dtype == "real"):
            at = f" (line {sym.span.line})" if sym.span.line else ""
            raise ShapeError(
                f"The carry '{t.name}' starts as {fmt_ty(sym.dtype, sym.shape)}{at} but is given "
                f"{fmt_ty(x.ty.dtype, x.ty.shape)}; a carry keeps its type and shape from step to step "
                f"(start it with the shape it keeps, e.g. zeros(K)).",
                stmt.span,
            )
        body.append(ir.ScanStep(role="carry", name=t.name, expr=x, ty=x.ty))
        return
    inner.define(Sym(t.name, "scan_local", x.ty.dtype, x.ty.shape, span=stmt.span))
    body.append(ir.ScanStep(role="local", name=t.name, expr=x, ty=x.ty))


def _output(s: A.Scan, stmt: A.Assign, x, inner: Scope, body: list) -> None:
    t = stmt.target
    if tuple(t.indices) != (s.var,):
        raise ShapeError(
            f"Inside 'scan {s.var}', an output is written {t.name}[{s.var}] = ... (one value per step).", t.span
        )
    if inner.lookup(t.name) is not None:
        prev = inner.lookup(t.name)
        where = f" at line {prev.span.line}" if prev.span.line else ""
        raise NameError_(f"'{t.name}' is already defined{where}.", t.span)
    inner.syms[t.name] = Sym(t.name, "scan_output", x.ty.dtype, x.ty.shape, span=stmt.span, scan_index=s.var)
    body.append(ir.ScanStep(role="output", name=t.name, expr=x, ty=x.ty))


def _nodes(pc, s: A.Scan, scan: ir.Scan, steps, factors: list, hidden: set) -> list:
    deps = tuple(sorted(ir.expr_refs(scan)))
    data_only = pc._data_only(scan)
    key = scan_key(s)
    pc.scope.syms[key] = Sym(key, "det", span=s.span, data_only=data_only)
    nodes: list = [ir.DetNode(name=key, expr=scan, ty=scan.ty, deps=deps, data_only=data_only, hidden=True)]
    for step in scan.body:
        if step.role != "output":
            continue
        ty = ir.Ty(dtype=step.ty.dtype, shape=(steps, *step.ty.shape))
        out = ir.ScanOut(scan=key, name=step.name, ty=ty)
        if step.name in factors:
            nodes.append(ir.FactorNode(name=step.name, expr=out, ty=ty, deps=(key,)))
            continue
        pc.scope.define(Sym(step.name, "det", ty.dtype, ty.shape, span=s.span, data_only=data_only))
        nodes.append(ir.DetNode(name=step.name, expr=out, ty=ty, deps=(key,), data_only=data_only,
                                hidden=step.name in hidden))  # fmt: skip
    for name, init in scan.carries:
        ty = ir.Ty(dtype=init.ty.dtype, shape=init.ty.shape)
        pc.scope.define(Sym(name, "det", ty.dtype, ty.shape, span=s.span, data_only=data_only))
        nodes.append(ir.DetNode(name=name, expr=ir.ScanOut(scan=key, name=name, ty=ty), ty=ty, deps=(key,),
                                data_only=data_only, hidden=True))  # fmt: skip
    return nodes


# ---------------------------------------------------------------- index bounds


def _bounds(s: A.Scan, body, start, stop) -> tuple[tuple[str, str, str], ...]:
    """Every ``x[t + c]`` of the body checked at the first and last steps: an error now where the sizes decide
    it, else a check the runtime makes once the data are bound: (lowest index, highest index, size, what)."""
    checks = []
    for step in body:
        for rec in ir.walk(step.expr):
            if not isinstance(rec, ir.Index):
                continue
            for pos, item in enumerate(rec.items):
                c = _offset(item.index, s.var) if item.mode == "select" else None
                if c is None:
                    continue
                size = rec.base.ty.shape[pos]
                lo, hi = dim_op("+", start, c), dim_op("+", dim_op("-", stop, 1), c)
                what = f"the index {_fmt_offset(s.var, c)} at line {s.span.line}"
                if isinstance(lo, int) and lo < 0:
                    raise ShapeError(f"At the first step ({s.var} = {start}) {what} is {lo}: before the start of the "
                                     "dimension. Start the scan later, e.g. range(1, T).", s.steps.span)  # fmt: skip
                room = dim_op("-", size, dim_op("+", hi, 1))
                if isinstance(room, int) and room < 0:
                    raise ShapeError(f"At the last step {what} is {hi}, past the end of a dimension of size {size}.",
                                     s.steps.span)  # fmt: skip
                if not isinstance(room, int) or not isinstance(lo, int):
                    checks.append((str(lo), str(hi), str(size), what))
    return tuple(dict.fromkeys(checks))


def _offset(x, var: str) -> int | None:
    """``c`` when ``x`` is ``var + c`` (or ``var - c``, ``var``), else None."""
    if isinstance(x, ir.Ref) and x.role == "scan_index" and x.name == var:
        return 0
    if isinstance(x, ir.BinOp) and x.op in ("+", "-"):
        if isinstance(x.right, ir.Const) and isinstance(x.right.value, int):
            c = _offset(x.left, var)
            if c is not None:
                return c + x.right.value if x.op == "+" else c - x.right.value
        if x.op == "+" and isinstance(x.left, ir.Const) and isinstance(x.left.value, int):
            c = _offset(x.right, var)
            return None if c is None else c + x.left.value
    return None


def _fmt_offset(var: str, c: int) -> str:
    return var if c == 0 else f"{var} {'+' if c > 0 else '-'} {abs(c)}"

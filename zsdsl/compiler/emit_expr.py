"""Expression emission: typed IR expressions → Python source text over torch and ``zl``.

Layout contract (see ``zsdsl.runtime.lib``): a tensor is ``[*sample, *plates, *elem]``.
Inside plates ``E`` every variable read is aligned to have one dim per plate of
``E`` (size 1 where it does not vary), and operands of broadcasting operations are
padded to a common element rank, so right-aligned broadcasting is always correct.
"""

from __future__ import annotations

import re

from zsdsl.compiler import ir, ode_sens
from zsdsl.compiler.signatures import has_fast_lpdf
from zsdsl.errors import InternalError

_OPS = {"+", "-", "*", "/", "%", "**", "<", "<=", ">", ">=", "==", "!="}
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
BROADCASTING = {"pow", "minimum", "maximum", "log_sum_exp", "log_mix", "where", "stack"}


def dim_code(d) -> str:
    """A size as code: ints verbatim, symbolic sizes as lookups in the sizes dict ``d``."""
    if isinstance(d, int):
        return str(d)
    # Symbolic dims are built by the compiler from validated identifiers, digits and + - * // ( ).
    return _NAME_RE.sub(lambda m: f'd["{m.group(0)}"]', str(d))


def const_code(v) -> str:
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, float):
        if v == float("inf"):
            return 'float("inf")'
        if v == float("-inf"):
            return 'float("-inf")'
        return repr(v)
    return str(int(v))


def index_code(code: str, entries: list[str]) -> str:
    return f"{code}[..., {', '.join(entries)}]" if entries else code


def pad(code: str, rank: int, target: int, after: int = 0) -> str:
    """Insert ``target - rank`` singleton dims before the last ``rank + after`` dims."""
    if target <= rank:
        return code
    return lift_code(code, target - rank, rank + after)


def lift_code(code: str, n: int, keep: int) -> str:
    """``n`` singleton dims before the last ``keep``: a no-op (``zl.lift`` returns its argument) when
    the value has no leading sample dims, since broadcasting aligns from the right."""
    return f"zl.lift({code}, {n}, {keep})"


def align(code: str, plates: tuple[str, ...], rank: int, E: tuple[str, ...]) -> str:
    """Give a value one dim per enclosing plate (None where it does not vary)."""
    if not E or tuple(plates) == tuple(E):
        return code
    if not plates:
        return lift_code(code, len(E), rank)
    return index_code(code, [":" if p in plates else "None" for p in E] + [":"] * rank)


class ExprEmitter:
    """Emits expressions; ``names`` maps node names to Python locals, ``net_code`` nets to modules."""

    def __init__(self, names: dict[str, str], plate_info: dict, net_code):
        self.names = names
        self.plate_info = plate_info  # plate -> (index variable, size code)
        self.net_code = net_code

    def emit(self, e, E: tuple[str, ...]) -> str:
        method = getattr(self, "_" + e.kind, None)
        if method is None:
            raise InternalError(f"no emitter for expression kind {e.kind!r}")
        return method(e, E)

    def operand(self, e, E, target_rank: int, after: int = 0) -> str:
        """An operand padded to ``target_rank`` element dims (Python constants need no padding)."""
        code = self.emit(e, E)
        if isinstance(e, ir.Const):
            return code
        return pad(code, e.ty.rank - after, target_rank, after)

    # ------------------------------------------------------------ leaves
    def _const(self, e: ir.Const, E):
        return const_code(e.value)

    def _ref(self, e: ir.Ref, E):
        if e.role == "dim":
            return dim_code(e.name)
        if e.role == "plate_index":
            idx, size = self.plate_info[e.name]
            return align(f"zl.plate_arange({idx}, {size})", (e.name,), 0, E)
        return align(self.names[e.name], e.ty.plates, e.ty.rank, E)

    def _plate_slice(self, e: ir.PlateSlice, E):
        base = e.base
        code = self.emit(base, ()) if isinstance(base, ir.Ref) else self.emit(base, E)
        rank = base.ty.rank
        for p in e.plates:
            idx, _ = self.plate_info[p]
            code = f"zl.take_plate({code}, {idx}, {rank})"
            rank -= 1
        return align(code, e.ty.plates, e.ty.rank, E)

    # ------------------------------------------------------------ operators
    def _binop(self, e: ir.BinOp, E):
        if e.op not in _OPS:
            raise InternalError(f"unknown operator {e.op!r}")
        r = e.ty.rank
        left, right = self.operand(e.left, E, r), self.operand(e.right, E, r)
        return f"({left} {e.op} {right})"

    def _neg(self, e: ir.Neg, E):
        return f"(-{self.emit(e.operand, E)})"

    def _list(self, e: ir.ListE, E):
        r = e.ty.rank - 1
        items = ", ".join(self.operand(x, E, r) for x in e.items)
        # [a, b] of vectors is a [2, K] value, as NumPy's array([a, b]): the new dim before the items' dims
        return f"zl.stack({items})" if r == 0 else f"zl.stack_before({r}, {items})"

    def _index(self, e: ir.Index, E):
        base = self.emit(e.base, E)
        rank = e.base.ty.rank
        entries, gather = [], None
        for pos, item in enumerate(e.items):
            if item.mode == "select":
                entries.append(self.emit(item.index, E))
            elif item.mode == "slice":
                lo = "" if item.start is None else self.emit(item.start, E)
                hi = "" if item.stop is None else self.emit(item.stop, E)
                entries.append(f"{lo}:{hi}")
            elif item.mode == "gather":
                gather = (pos, item.index)
                entries.append(":")
            else:
                entries.append(":")
        entries += [":"] * (rank - len(e.items))
        code = base if all(x == ":" for x in entries) else index_code(base, entries)
        if gather is None:
            return code
        pos, idx = gather
        selects_before = sum(1 for it in e.items[:pos] if it.mode == "select")
        selects = sum(1 for it in e.items if it.mode == "select")
        idx_code = self.emit(idx, E)
        return f"zl.gather({code}, {rank - selects}, {pos - selects_before}, {idx_code}, {idx.ty.rank})"

    # ------------------------------------------------------------ calls
    def _call(self, e: ir.Call, E):
        static = dict(e.static)
        if e.func in BROADCASTING:
            r = e.ty.rank - (1 if e.func == "stack" else 0)
            args = [self.operand(a, E, r) for a in e.args]
        else:
            args = [self.emit(a, E) for a in e.args]
        if "ndims" in static:
            args.append(str(static["ndims"]))
        if "axis" in static:
            args.append(f"axis={static['axis']}")
        if static.get("points_rank"):
            args.append(f"points_rank={static['points_rank']}")
        if "b_rank" in static:  # a vector b with sample dims must not be read as a matrix
            args.append(f"b_rank={static['b_rank']}")
        return f"zl.{e.func}({', '.join(args)})"

    def _scan_out(self, e: ir.ScanOut, E):
        return align(f"{self.names[e.scan]}[{e.name!r}]", (), e.ty.rank, E)

    def _ode(self, e: ir.Ode, E):
        # the right-hand side as a lambda over the solver's time, state and arguments: the inlined body's
        # placeholders (role fn_arg) read the lambda's parameters, named apart from the model's locals
        local = {p: f"_{e.func}_{p}" for p in e.params}
        saved = {p: self.names[p] for p in e.params if p in self.names}
        self.names.update(local)
        try:
            rhs = self.emit(e.rhs, ())
        finally:
            for p in e.params:
                del self.names[p]
            self.names.update(saved)
        args = "".join(f"{self.emit(a, E)}, " for a in e.args)
        where = f"{e.solver} (line {e.line})" if e.line else e.solver
        sens, _ = ode_sens.helper(e)  # the coupled sensitivity system, a module-level function (emit_module)
        sens = f", sens={sens}" if sens else ""
        return (f"zl.ode_rk45(lambda {', '.join(local.values())}: {rhs}, {self.emit(e.y0, E)}, "
                f"{self.emit(e.t0, E)}, {self.emit(e.ts, E)}, ({args}), {tuple(e.ranks)!r}, rtol={e.rtol!r}, "
                f"atol={e.atol!r}, max_steps={e.max_steps}, where={where!r}{sens})")  # fmt: skip

    def _net_call(self, e: ir.NetCall, E):
        x = self.emit(e.arg, E)
        return self.net_code(e.net, x, len(E))

    def _dist(self, e: ir.Dist, E, batch_rank: int | None = None):
        r = e.ty.rank if batch_rank is None else batch_rank
        ranks = dict(e.event_ranks)
        args = ", ".join(f"{k}={self.operand(v, E, r, ranks.get(k, 0))}" for k, v in e.args)
        return f"zl.dist.{e.name}({args})"

    def log_density(self, e: ir.Dist, value: str, E, batch_rank: int | None = None) -> str:
        """Elementwise log-density of ``value``: closed form (``zl.lpdf``) where there is one."""
        if has_fast_lpdf(e.name, (k for k, _ in e.args)):
            r = e.ty.rank if batch_rank is None else batch_rank
            ranks = dict(e.event_ranks)
            args = "".join(f", {k}={self.operand(v, E, r, ranks.get(k, 0))}" for k, v in e.args)
            return f"zl.lpdf.{e.name}({value}{args})"
        return f"zl.log_prob({self._dist(e, E, batch_rank)}, {value})"

    def _logpdf(self, e: ir.LogPdf, E):
        return self.log_density(e.dist, self.emit(e.value, E), E, e.ty.rank)

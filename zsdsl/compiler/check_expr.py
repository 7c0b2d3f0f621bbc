"""Typing of expressions: names, indexing (plate slices, selects, gathers, slices), operators,
builtin calls, net calls and distributions. Produces typed IR expressions or raises a located error.

Inside plates every expression is per element: ``Ty.shape`` excludes plate dims and
``Ty.plates`` lists the enclosing plates the value varies over.
"""

from __future__ import annotations

from zsdsl.compiler import builtins, check_ode, ir
from zsdsl.compiler.check_nets import NetError, propagate
from zsdsl.compiler.scope import Cascade, Scope, did_you_mean
from zsdsl.compiler.shapes import ShapeMismatch, broadcast, broadcast_all, dim_op, fmt_shape, matmul_shape, slice_len
from zsdsl.compiler.signatures import DISTRIBUTIONS, DistSig
from zsdsl.errors import DistributionError, NameError_, ShapeError, SpecWarning, SupportError, TypeError_, ZsdslError
from zsdsl.grammar import ast as A

_ARITH = {"+", "-", "*", "/", "%", "**"}
_COMPARE = {"<", "<=", ">", ">=", "==", "!="}
_POSITIVE_SUPPORTS = {"positive"}


def _order(plates: set[str], E: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(p for p in E if p in plates)


def _step_int(x) -> bool:
    """Whether ``x`` is a Python integer when the code runs: a scan's index, sizes and constants with + - *."""
    if isinstance(x, ir.Const):
        return x.ty.dtype == "int"
    if isinstance(x, ir.Ref):
        return x.role in ("scan_index", "dim")
    if isinstance(x, ir.BinOp) and x.op in ("+", "-", "*"):
        return _step_int(x.left) and _step_int(x.right)
    return False


def _has_scan_index(x) -> bool:
    return any(isinstance(r, ir.Ref) and r.role == "scan_index" for r in ir.walk(x))


def _dtype2(a: str, b: str, op: str) -> str:
    if op in _COMPARE:
        return "bool"
    if op == "/" or "real" in (a, b):
        return "real"
    return "int"


class ExprChecker:
    """Types expressions against a scope; ``plate_size`` maps plate variables to their sizes."""

    def __init__(self, scope: Scope, plate_size: dict, nets: dict):
        self.scope = scope
        self.plate_size = plate_size
        self.nets = nets
        self.warnings: list[SpecWarning] = []
        self.functions: dict = {}  # user functions by name (check_functions.py)
        self.inlining: tuple[str, ...] = ()  # the user functions whose bodies are being checked, outermost first

    # ------------------------------------------------------------ sizes
    def eval_dim(self, e) -> ir.Dim:
        if isinstance(e, A.Num):
            if isinstance(e.value, int) and e.value >= 0:
                return e.value
            raise ShapeError(f"A size must be a non-negative integer, got {e.value}.", e.span)
        if isinstance(e, A.Name):
            sym = self.scope.lookup(e.id)
            if sym is None:
                raise self.scope.undefined(e.id, e.span)
            if sym.dim_value is None:
                raise ShapeError(f"'{e.id}' is not a size; sizes are integers, dims or integer data.", e.span)
            return sym.dim_value
        if isinstance(e, A.BinOp) and e.op in ("+", "-", "*", "/"):
            return dim_op("//" if e.op == "/" else e.op, self.eval_dim(e.left), self.eval_dim(e.right))
        raise ShapeError("A size must be an integer, a dim or integer data (with + - * /).", e.span)

    # ------------------------------------------------------------ expressions
    def expr(self, e, E: tuple[str, ...]):
        method = getattr(self, "_" + type(e).__name__.lower(), None)
        if method is None:
            raise TypeError_(f"{type(e).__name__} cannot be used as a value here.", e.span)
        return method(e, E)

    def _num(self, e: A.Num, E):
        dtype = "int" if isinstance(e.value, int) else "real"
        return ir.Const(value=e.value, ty=ir.Ty(dtype=dtype))

    def _name(self, e: A.Name, E):
        sym = self.scope.lookup(e.id)
        if sym is None and self.inlining:
            raise NameError_(
                f"Undefined name '{e.id}' in the function '{self.inlining[-1]}': a function reads only "
                "its parameters and its own values (pass data or latents as arguments).",
                e.span,
            )
        if sym is None:
            raise self.scope.undefined(e.id, e.span)
        if sym.role == "fn_value":
            return sym.value
        if sym.role == "net":
            raise TypeError_(f"'{e.id}' is a net; call it on an input, e.g. {e.id}(x).", e.span)
        if sym.role == "plate_index":
            if e.id not in E:
                raise ShapeError(f"The plate index '{e.id}' is used outside its plate.", e.span)
            return ir.Ref(name=e.id, role="plate_index", ty=ir.Ty(dtype="int", plates=(e.id,)))
        if sym.role == "dim":
            return ir.Ref(name=e.id, role="dim", ty=ir.Ty(dtype="int"))
        if sym.role == "scan_output":
            raise TypeError_(
                f"'{e.id}' is this scan's output, stacked over the steps after the loop: inside the loop "
                f"{e.id}[{sym.scan_index}] is this step's value, and earlier steps' values are not kept (a carry "
                "holds what the next step needs).",
                e.span,
            )
        kept = []
        for p in sym.plates:
            if p not in E:
                break
            kept.append(p)
        if sym.local and len(kept) < len(sym.plates):
            raise ShapeError(f"'{e.id}' is local to plate '{sym.plates[-1]}' and cannot be used outside it.", e.span)
        outer = tuple(self.plate_size[p] for p in sym.plates[len(kept) :])
        ty = ir.Ty(dtype=sym.dtype, shape=(*outer, *sym.shape), plates=tuple(kept))
        return ir.Ref(name=e.id, role=sym.role, decl_plates=sym.plates, ty=ty)

    def _neg(self, e: A.Neg, E):
        x = self.expr(e.operand, E)
        if x.ty.dtype == "bool":
            raise TypeError_("Unary minus needs a number, got a comparison.", e.span)
        return ir.Neg(operand=x, ty=x.ty)

    def _binop(self, e: A.BinOp, E):
        left, right = self.expr(e.left, E), self.expr(e.right, E)
        plates = _order(set(left.ty.plates) | set(right.ty.plates), E)
        if e.op == "@":
            try:
                shape, helper = matmul_shape(left.ty.shape, right.ty.shape)
            except ShapeMismatch as exc:
                raise ShapeError(f"Cannot multiply: {exc}.", e.span) from None
            return ir.Call(func=helper, args=(left, right), ty=ir.Ty(dtype="real", shape=shape, plates=plates))
        for side in (left, right):
            if side.ty.dtype == "bool" and e.op in _ARITH:
                raise TypeError_(f"'{e.op}' needs numbers, got a comparison.", e.span)
        try:
            shape = broadcast(left.ty.shape, right.ty.shape)
        except ShapeMismatch as exc:
            raise ShapeError(f"Operands of '{e.op}' have incompatible shapes: {exc}.", e.span) from None
        ty = ir.Ty(dtype=_dtype2(left.ty.dtype, right.ty.dtype, e.op), shape=shape, plates=plates)
        return ir.BinOp(op=e.op, left=left, right=right, ty=ty)

    def _listexpr(self, e: A.ListExpr, E):
        items = [self.expr(x, E) for x in e.items]
        if not items:
            raise ShapeError("An empty list has no shape.", e.span)
        try:
            shape = broadcast_all([x.ty.shape for x in items])
        except ShapeMismatch as exc:
            raise ShapeError(f"List items have different shapes: {exc}.", e.span) from None
        dtype = "real" if any(x.ty.dtype == "real" for x in items) else items[0].ty.dtype
        plates = _order(set().union(*[set(x.ty.plates) for x in items]), E)
        return ir.ListE(items=tuple(items), ty=ir.Ty(dtype=dtype, shape=(len(items), *shape), plates=plates))

    def _arrow(self, e: A.Arrow, E):
        raise TypeError_("'->' only appears in net constructors, e.g. MLP(784 -> 500 -> 10).", e.span)

    # ------------------------------------------------------------ indexing
    def _index(self, e: A.Index, E):
        step_value = self._scan_output_now(e)
        if step_value is not None:
            return step_value if len(e.indices) == 1 else self._index_rest(step_value, list(e.indices[1:]), E, e)
        base = self.expr(e.value, E)
        indices = list(e.indices)
        new_plates = []
        shape = list(base.ty.shape)
        # Leading plate indices: x[n] reinterprets x's leading element dims as plate dims.
        while indices and isinstance(indices[0], A.Name) and indices[0].id in E:
            var = indices[0].id
            sym = self.scope.lookup(var)
            if sym is None or sym.role != "plate_index":
                break
            indices.pop(0)
            if var in base.ty.plates or var in new_plates:
                continue
            if not shape:
                raise ShapeError(f"Cannot index a scalar with the plate index '{var}'.", e.span)
            if shape[0] != self.plate_size[var]:
                raise ShapeError(
                    f"Plate '{var}' ranges over {self.plate_size[var]} but the indexed dimension has size {shape[0]}.",
                    e.span,
                )
            later = [p for p in base.ty.plates if E.index(p) > E.index(var)]
            if later:
                raise ShapeError(f"Index plates in nesting order: '{var}' is outer to '{later[0]}'.", e.span)
            shape.pop(0)
            new_plates.append(var)
        if new_plates:
            plates = _order(set(base.ty.plates) | set(new_plates), E)
            base = ir.PlateSlice(
                base=base, plates=tuple(new_plates), ty=ir.Ty(dtype=base.ty.dtype, shape=tuple(shape), plates=plates)
            )
        if not indices:
            return base
        return self._index_rest(base, indices, E, e)

    def _scan_output_now(self, e: A.Index):
        """``o[t]`` inside ``scan t`` after ``o[t] = ...``: this step's value of the output ``o``."""
        if not isinstance(e.value, A.Name):
            return None
        sym = self.scope.lookup(e.value.id)
        if sym is None or sym.role != "scan_output":
            return None
        first = e.indices[0]
        if not (isinstance(first, A.Name) and first.id == sym.scan_index):
            raise TypeError_(
                f"Inside the scan only {sym.name}[{sym.scan_index}], this step's value, can be read; earlier "
                "steps' values are not kept (a carry holds what the next step needs).",
                first.span,
            )
        return ir.Ref(name=sym.name, role="scan_local", ty=ir.Ty(dtype=sym.dtype, shape=sym.shape))

    def _index_rest(self, base, indices, E, e):
        shape = list(base.ty.shape)
        if len(indices) > len(shape):
            raise ShapeError(
                f"Too many indices: {len(indices)} for a value of shape {fmt_shape(base.ty.shape)}.", e.span
            )
        items, out_shape, plates = [], [], set(base.ty.plates)
        for pos, idx in enumerate(indices):
            size = shape[pos]
            if isinstance(idx, A.Slice):
                start = None if idx.start is None else self.slice_bound(idx.start, size)
                stop = None if idx.stop is None else self.slice_bound(idx.stop, size)
                items.append(ir.IndexItem(mode="slice", start=self._dim_const(start), stop=self._dim_const(stop)))
                out_shape.append(slice_len(size, start, stop))
                continue
            x = self.expr(idx, E)
            if x.ty.dtype != "int":
                raise TypeError_(f"An index must be an integer, got {x.ty.dtype}.", idx.span)
            if isinstance(x, ir.Const):
                if isinstance(size, int) and not -size <= x.value < size:
                    raise ShapeError(f"Index {x.value} is out of range for a dimension of size {size}.", idx.span)
                items.append(ir.IndexItem(mode="select", index=x))
            elif _step_int(x):  # y[t - 1] in a scan, y[T - 1]: a Python integer (a scan checks its own range)
                if not _has_scan_index(x):
                    self._check_size_index(idx, size)
                items.append(ir.IndexItem(mode="select", index=x))
            else:
                items.append(ir.IndexItem(mode="gather", index=x))
                out_shape.extend(x.ty.shape)
                plates |= set(x.ty.plates)
        ty = ir.Ty(dtype=base.ty.dtype, shape=(*out_shape, *shape[len(indices) :]), plates=_order(plates, E))
        if sum(1 for i in items if i.mode == "gather") > 1:
            raise ShapeError("Only one indexing position may use a computed index; split the expression.", e.span)
        return ir.Index(base=base, items=tuple(items), ty=ty)

    def _check_size_index(self, idx, size: ir.Dim) -> None:
        """``y[T - 1]``: an index computed from sizes, within the dimension when the sizes decide it."""
        d = self.eval_dim(idx)
        room = dim_op("-", size, dim_op("+", d, 1))
        if isinstance(room, int) and room < 0:
            raise ShapeError(f"Index {d} is out of range for a dimension of size {size}.", idx.span)

    def slice_bound(self, e, size: ir.Dim) -> ir.Dim:
        """A slice bound as a size from the start: ``-k`` counts from the end (``y[:-1]``, ``y[-K:]``), as in
        Python; integer bounds past the end are clipped, as in Python."""
        if isinstance(e, A.Num) and isinstance(e.value, int) and e.value < 0:
            e = A.Neg(A.Num(-e.value, e.span), e.span)
        if isinstance(e, A.Neg):
            k = self.eval_dim(e.operand)
            if isinstance(k, int) and isinstance(size, int):
                return max(0, size - k)
            return dim_op("-", size, k)
        d = self.eval_dim(e)
        return min(d, size) if isinstance(d, int) and isinstance(size, int) else d

    def _dim_const(self, d):
        if d is None:
            return None
        if isinstance(d, int):
            return ir.Const(value=d, ty=ir.Ty(dtype="int"))
        return ir.Ref(name=str(d), role="dim", ty=ir.Ty(dtype="int"))

    # ------------------------------------------------------------ calls
    def _call(self, e: A.Call, E):
        if e.func in check_ode.SOLVERS:
            return check_ode.check_ode(self, e, E)
        if e.func in check_ode.STAN_FORMS:
            raise TypeError_(check_ode.STAN_FORMS[e.func], e.func_span)
        if e.func in self.functions:
            from zsdsl.compiler.check_functions import call_function

            return call_function(self, self.functions[e.func], e, E)
        if e.func in self.scope.failed:
            raise Cascade(f"'{e.func}' is not defined: its definition has an error.", e.func_span)
        if e.func == "logpdf":
            return self._logpdf(e, E)
        if e.func in self.nets:
            return self._net_call(e, E)
        if e.func in DISTRIBUTIONS:
            raise TypeError_(
                f"A distribution is not a value; sample it with '~' or use logpdf({e.func}(...), x).", e.func_span
            )
        known = builtins.known_functions()
        if e.func not in known:
            sym = self.scope.lookup(e.func)
            if sym is not None:
                raise TypeError_(f"'{e.func}' is not a function or net and cannot be called.", e.func_span)
            hint = did_you_mean(e.func, [*known, *self.nets, *DISTRIBUTIONS])
            raise (
                self.scope.undefined(e.func, e.func_span, extra=[*known, *self.nets])
                if not hint
                else TypeError_(f"Unknown function '{e.func}'.{hint}", e.func_span)
            )
        if e.func in builtins.REWRITTEN:
            return self.expr(self._rewrite(e, E), E)
        if e.func in builtins.STAN_KERNELS:
            return self.expr(self._stan_kernel(e), E)
        if e.func == "log_sum_exp" and len(e.args) == 1:  # Stan's log_sum_exp(v): the reduction
            e = A.Call("logsumexp", e.args, e.kwargs, e.span, e.func_span)
        dim = self._dim_kwarg(e)
        sizes = []
        if e.func in builtins.SIZE_FUNCS:
            size_args = e.args[:-1] if e.func == "full" else e.args
            sizes = [self.eval_dim(a) for a in size_args] + ([None] if e.func == "full" else [])
        if e.func == "one_hot" and len(e.args) == 2:
            sizes = [None, self.eval_dim(e.args[1])]
        args = [
            self._dim_const(sizes[i]) if sizes and sizes[i] is not None and e.func != "one_hot" else self.expr(a, E)
            for i, a in enumerate(e.args)
        ]
        if e.func == "one_hot" and len(args) == 2:
            args[1] = self._dim_const(sizes[1])
        try:
            shape, dtype, static = builtins.rule(e.func, [a.ty for a in args], sizes, dim)
        except (builtins.BuiltinError, ShapeMismatch) as exc:
            raise ShapeError(str(exc) if str(exc).endswith(".") else f"{exc}.", e.span) from None
        if e.func == "one_hot":
            shape = (*args[0].ty.shape, sizes[1])
        plates = _order(set().union(*[set(a.ty.plates) for a in args]) if args else set(), E)
        return ir.Call(func=e.func, args=tuple(args), static=static, ty=ir.Ty(dtype=dtype, shape=shape, plates=plates))

    def _rewrite(self, e: A.Call, E):
        """Stan's quad_form(A, x) = x'Ax (B'AB for a matrix B), quad_form_diag(M, v) = diag(v) M diag(v) and
        dot_self(x) = x'x, as the products they are."""
        n = builtins.REWRITTEN[e.func]
        if e.kwargs or len(e.args) != n:
            raise TypeError_(f"{e.func}() takes {n} argument{'s' if n > 1 else ''}.", e.span)
        s = e.span

        def call(f, *a):
            return A.Call(f, tuple(a), (), s, s)

        if e.func == "dot_self":
            return call("dot", e.args[0], e.args[0])
        a, x = e.args
        if e.func == "quad_form_diag":
            return A.BinOp("@", A.BinOp("@", call("diag", x), a, s), call("diag", x), s)
        rank = self.expr(x, E).ty.rank
        if rank not in (1, 2):
            raise ShapeError(f"quad_form(A, x) takes a vector or matrix x, got rank {rank}.", x.span)
        if rank == 1:
            return call("dot", x, A.BinOp("@", a, x, s))
        return A.BinOp("@", call("transpose", x), A.BinOp("@", a, x, s), s)

    def _stan_kernel(self, e: A.Call) -> A.Call:
        """Stan's gp_exp_quad_cov(x, alpha, rho) is exp_quad_kernel(x, x, alpha, rho); with two sets of points,
        (x1, x2, ...), the same arguments; likewise the Matérn, exponential and periodic covariances."""
        kernel, n = builtins.STAN_KERNELS[e.func]
        hyper = ", ".join(builtins.KERNELS[kernel])
        if e.kwargs or len(e.args) not in (n, n + 1):
            raise TypeError_(f"{e.func}() takes {n} arguments (x, {hyper}) or {n + 1} (x1, x2, {hyper}).", e.span)
        args = (e.args[0], *e.args) if len(e.args) == n else e.args
        return A.Call(kernel, tuple(args), (), e.span, e.func_span)

    def _dim_kwarg(self, e: A.Call) -> int | None:
        """The ``dim=`` of a reduction or scan: an integer literal (negative counts from the last dim)."""
        for kw in e.kwargs:
            if e.func in builtins.AXIS_FUNCS and kw.name != "dim":
                raise TypeError_(f"{e.func}() takes no keyword argument '{kw.name}' (only dim=).", kw.span)
            if kw.name == "dim" and e.func not in builtins.AXIS_FUNCS:
                takes = ", ".join(sorted(builtins.AXIS_FUNCS | {"log_sum_exp"}))
                raise TypeError_(f"{e.func}() takes no dim=; the functions along a dim are {takes}.", kw.span)
            if kw.name != "dim":
                raise TypeError_(f"{e.func}() takes no keyword arguments.", kw.span)
        kw = next(iter(e.kwargs), None)
        if kw is None:
            return None
        v = kw.value
        sign = 1
        if isinstance(v, A.Neg):
            v, sign = v.operand, -1
        if not (isinstance(v, A.Num) and isinstance(v.value, int)):
            raise TypeError_("dim= must be an integer literal, e.g. dim=0 or dim=-1 (the last dim).", kw.value.span)
        return sign * v.value

    def _net_call(self, e: A.Call, E):
        info = self.nets[e.func]
        if len(e.args) != 1 or e.kwargs:
            raise TypeError_(f"A net takes exactly one input: {e.func}(x).", e.span)
        x = self.expr(e.args[0], E)
        try:
            out = propagate(info, x.ty.shape, e.span)
        except NetError as exc:
            raise ShapeError(f"{e.func}: {exc}", e.span) from None
        if info.in_shape is not None and tuple(info.in_shape) != tuple(x.ty.shape):
            raise ShapeError(
                f"{e.func} was first called on {fmt_shape(info.in_shape)} but here on {fmt_shape(x.ty.shape)}.",
                e.span,
            )
        info.in_shape, info.out_shape = tuple(x.ty.shape), tuple(out)
        ty = ir.Ty(dtype="real", shape=tuple(out), plates=x.ty.plates)
        return ir.NetCall(net=e.func, arg=x, bayesian=info.prior is not None, ty=ty)

    def _logpdf(self, e: A.Call, E):
        if len(e.args) != 2 or e.kwargs or not isinstance(e.args[0], A.Call):
            raise TypeError_("logpdf takes a distribution and a value: logpdf(Normal(0, 1), x).", e.span)
        dist, sig, intrinsic = self.dist(e.args[0], E)
        value = self.expr(e.args[1], E)
        if sig.dtype == "int" and value.ty.dtype == "real":
            raise TypeError_(f"{sig.name} is discrete; its value must be integer, got real.", e.args[1].span)
        try:
            full = broadcast(dist.ty.shape, value.ty.shape[: value.ty.rank - len(intrinsic)])
        except ShapeMismatch as exc:
            raise ShapeError(f"The value does not fit the distribution: {exc}.", e.span) from None
        plates = _order(set(dist.ty.plates) | set(value.ty.plates), E)
        ty = ir.Ty(dtype="real", shape=tuple(full), plates=plates)
        return ir.LogPdf(dist=dist, value=value, sum_rank=0, ty=ty)

    # ------------------------------------------------------------ distributions
    def dist(self, call, E) -> tuple[ir.Dist, DistSig, ir.Shape]:
        """Check a distribution call; returns the IR, its signature and the intrinsic event shape."""
        if not isinstance(call, A.Call):
            raise DistributionError("Expected a distribution after '~', e.g. Normal(0, 1).", call.span)
        sig = DISTRIBUTIONS.get(call.func)
        if sig is None:
            hint = did_you_mean(call.func, DISTRIBUTIONS)
            raise DistributionError(f"Unknown distribution '{call.func}'.{hint}", call.func_span)
        given = self._bind_args(call, sig)
        args, batches, ranks = [], [], []
        for name, node in given.items():
            p = sig.param(name)
            x = self.expr(node, E)
            self._check_arg(sig, p, x, node)
            if x.ty.rank < p.event_rank:
                want = "a vector" if p.event_rank == 1 else "a matrix"
                raise ShapeError(f"{sig.name}'s '{name}' must be {want}, got {fmt_shape(x.ty.shape)}.", node.span)
            batches.append(x.ty.shape[: x.ty.rank - p.event_rank])
            args.append((name, x))
            if p.event_rank:
                ranks.append((name, p.event_rank))
        try:
            batch = broadcast_all(batches)
        except ShapeMismatch as exc:
            raise ShapeError(f"Arguments of {sig.name} have incompatible shapes: {exc}.", call.span) from None
        intrinsic = self._intrinsic(sig, dict(args), call)
        plates = _order(set().union(*[set(x.ty.plates) for _, x in args]) if args else set(), E)
        ty = ir.Ty(dtype=sig.dtype, shape=tuple(batch), plates=plates)
        return ir.Dist(name=sig.name, args=tuple(args), event_ranks=tuple(ranks), ty=ty), sig, intrinsic

    def _bind_args(self, call: A.Call, sig: DistSig) -> dict:
        names = sig.positional_names
        grouped = {n for g in sig.alternatives for n in g}
        positional_names = [n for n in names if n not in grouped or n == next(g for g in sig.alternatives if n in g)[0]]
        if len(call.args) > len(positional_names):
            raise DistributionError(
                f"{sig.name} takes at most {len(positional_names)} positional argument"
                f"{'s' if len(positional_names) != 1 else ''} ({', '.join(positional_names)}), got {len(call.args)}.",
                call.args[len(positional_names)].span,
            )
        given = dict(zip(positional_names, call.args))
        for kw in call.kwargs:
            if sig.param(kw.name) is None:
                hint = did_you_mean(kw.name, [p.name for p in sig.params])
                valid = ", ".join(p.name for p in sig.params)
                raise DistributionError(f"{sig.name} has no argument '{kw.name}' (it takes {valid}).{hint}", kw.span)
            if kw.name in given:
                raise DistributionError(f"{sig.name}'s '{kw.name}' is given twice.", kw.span)
            given[kw.name] = kw.value
        for group in sig.alternatives:
            present = [n for n in group if n in given]
            if not present:
                raise DistributionError(f"{sig.name} needs one of {' or '.join(n + '=' for n in group)}.", call.span)
            if len(present) > 1:
                raise DistributionError(f"{sig.name} takes only one of {', '.join(present)}.", given[present[1]].span)
        missing = [n for n in sig.required if n not in given]
        if missing:
            raise DistributionError(f"{sig.name} is missing its argument '{missing[0]}'.", call.span)
        return given

    def _check_arg(self, sig, p, x, node) -> None:
        if p.dtype == "int" and x.ty.dtype != "int" and not (isinstance(x, ir.Const) and float(x.value).is_integer()):
            raise TypeError_(f"{sig.name}'s '{p.name}' must be an integer.", node.span)
        if x.ty.dtype == "bool":
            raise TypeError_(f"{sig.name}'s '{p.name}' must be a number, got a comparison.", node.span)
        if isinstance(x, ir.Const):
            v = x.value
            bad = (p.support in _POSITIVE_SUPPORTS and v <= 0) or (p.support == "unit_closed" and not 0 <= v <= 1)
            bad = bad or (p.support == "int_nonneg" and v < 0)
            if bad:
                what = {"positive": "positive", "unit_closed": "in [0, 1]", "int_nonneg": "non-negative"}[p.support]
                raise SupportError(f"{sig.name}'s '{p.name}' must be {what}, got {v}.", node.span)
        ref = x.base if isinstance(x, ir.PlateSlice) else x
        if p.support in _POSITIVE_SUPPORTS and isinstance(ref, ir.Ref) and ref.role in ("latent", "param"):
            sym = self.scope.lookup(ref.name)
            if sym is not None and sym.support is not None and sym.support.kind == "real":
                self.warnings.append(SpecWarning(
                    f"{sig.name}'s '{p.name}' must be positive, but the {ref.role} '{ref.name}' is unconstrained: "
                    f"its values below 0 lie outside the density's support. Declare it positive, e.g. "
                    f"`{ref.name}: real in (0, inf) ~ ...`.", node.span))  # fmt: skip

    def _intrinsic(self, sig: DistSig, args: dict, call) -> ir.Shape:
        rule = sig.value_event
        if rule == "scalar":
            return ()
        kind, name = rule.split(":")
        if kind == "param":
            group = next((g for g in sig.alternatives if name in g), (name,))
            x = next(args[n] for n in group if n in args)
            return (x.ty.shape[-1],)
        if kind == "square":
            node = call.kwarg(name).value if call.kwarg(name) else call.args[0]
            d = self.eval_dim(node)
            return (d, d)
        raise ZsdslError(f"bad value_event rule {rule}")

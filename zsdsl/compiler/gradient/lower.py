"""Checked IR → primitive form: the log density of a model on the unconstrained vector ``z``.

Each latent site takes its slice of ``z`` (sites in declaration order, plates first, as
``ModelBase.sites``), goes through its bijector (the log-Jacobian is a term), and every sample and
factor node adds its log density summed over its plates and event dims. Densities come from the
one table (``densities``); builtins lower to primitives. The sizes stay symbolic: the result prints
without data. What has no rule raises ``Unsupported`` naming the construct and the node.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from zsdsl.compiler import ir, ode_sens
from zsdsl.compiler.builtins import KERNELS
from zsdsl.compiler.emit_expr import dim_code
from zsdsl.compiler.gradient import densities
from zsdsl.compiler.gradient.graph import Builder, Unsupported, Val
from zsdsl.compiler.gradient.kernels import lower_kernel
from zsdsl.compiler.gradient.scan import lower_scan, lower_scan_out
from zsdsl.compiler.shapes import dim_op

_UNARY = {"exp", "log", "log1p", "expm1", "sqrt", "square", "tanh", "sigmoid", "softplus", "lgamma", "digamma",
          "abs", "sin", "cos", "erf", "logit"}  # fmt: skip
_ALIAS = {"inv_logit": "sigmoid"}
_BINOPS = {"+": "add", "-": "sub", "*": "mul", "/": "div", "**": "pow", "<": "lt", "<=": "le", ">": "gt",
           ">=": "ge", "==": "eq", "!=": "ne"}  # fmt: skip


class _Math:
    """The density table's maths namespace over symbolic values."""

    def __init__(self, b: Builder):
        self.b = b

    def log(self, x):
        return self.b.unary("log", x)

    def log1p(self, x):
        return self.b.unary("log1p", x)

    def exp(self, x):
        return self.b.unary("exp", x)

    def lgamma(self, x):
        return self.b.unary("lgamma", x)

    def softplus(self, x):
        return self.b.unary("softplus", x)

    def xlogy(self, a, y):
        a = self.b.lift(a)
        if a.const is not None:
            return 0.0 if a.const == 0 else a * self.log(y)
        return self.b.elementwise("xlogy", a, y)

    def abs(self, x):
        return self.b.unary("abs", x)

    def within(self, x, low, high, lp):
        """lp where low <= x <= high, else -inf (the support of a uniform)."""
        x, low, high = self.b.lift(x), self.b.lift(low), self.b.lift(high)
        inside = self.b.binary("and", self.b.binary("ge", x, low), self.b.binary("le", x, high))
        return self.b.where(inside, lp, float("-inf"))

    def trisolve(self, L, x):
        L, x = self.b.lift(L), self.b.lift(x)
        if L.lead or x.lead or len(L.shape) != 2 or len(x.shape) != 1:
            raise Unsupported("a triangular solve of this form")
        return self.b.emit("trisolve", (L, x), x.shape, 0, "real")

    def diag(self, L):
        return self.b.emit("diag_part", (L,), L.shape[:1], 0, "real")

    def total(self, x):
        return self.b.sum_all(self.b.lift(x))

    def length(self, x):
        return self.b.size_of(self.b.lift(x).shape[-1:])

    def nonneg(self, x, lp):
        x = self.b.lift(x)
        if x.const is not None:
            return lp if x.const >= 0 else float("-inf")
        return self.b.elementwise("nonneg", x, lp)


@dataclass
class Lowered:
    builder: Builder
    data_lines: list
    sites: list  # (name, z value, offset code, size code)
    total: Val
    dim_code: str


class Lowering:
    def __init__(self, program: ir.ProgramIR, spans: dict | None = None):
        self.p = program
        self.spans = spans or {}  # node name -> "file:line:col" of its statement
        self.b = Builder()
        self.m = _Math(self.b)
        self.values: dict[str, tuple[Val, tuple]] = {}  # node -> (value, the plates of its leading axes)
        self.data_lines: list[str] = []
        self.node = "?"

    def where(self) -> str:
        """The node being lowered, and where its statement is in the spec."""
        at = self.spans.get(self.node)
        return f"in '{self.node}', {at}" if at else f"in '{self.node}'"

    # ------------------------------------------------------------ sizes and data
    def size(self, d) -> str:
        return dim_code(d)

    def shape_code(self, shape) -> str:
        items = [self.size(x) for x in shape]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"

    def full_shape(self, plates, shape) -> tuple:
        return tuple(self.p.plate(pl).size for pl in plates) + tuple(shape)

    def data(self, name: str) -> Val:
        if name not in self.values:
            node = next((n for n in self.p.data if n.name == name), None)
            if node is None:
                raise Unsupported(f"the data field '{name}'")
            if node.ty.shape:
                kind = "np.float64" if node.ty.dtype == "real" else "np.int64"
                code = f"np.asarray(data[{name!r}], dtype={kind})"
            else:
                code = f"{'float' if node.ty.dtype == 'real' else 'int'}(data[{name!r}])"
            v = self.b.emit("code", (), node.ty.shape, 0, node.ty.dtype, (code,), data=True)
            self.values[name] = (v, ())
        return self.values[name][0]

    # ------------------------------------------------------------ the model
    def run(self) -> Lowered:
        p = self.p
        if p.nets:
            raise Unsupported("networks")
        if p.params:
            raise Unsupported("learnable parameters (params:)")
        terms, sites, offset = [], [], [0]  # an int and the symbolic sizes before the next site
        for node in p.nodes:
            self.node = node.name
            if isinstance(node, ir.SampleNode) and not node.observed:
                value, ladj, site = self.latent(node, " + ".join(str(x) for x in offset if x != 0) or "0")
                sites.append(site)
                if site[3] == "1":
                    offset[0] += 1
                else:
                    offset.append(site[3])
                if ladj is not None:
                    terms.append(ladj)
                terms.append(self.term(node.dist, value, node.ty.plates))
            elif isinstance(node, ir.SampleNode):
                value = self.observed(node)
                terms.append(self.term(node.dist, value, node.ty.plates))
            elif isinstance(node, ir.DetNode):
                v = self.expr(node.expr, node.ty.plates)
                self.values[node.name] = (v, node.ty.plates if v.lead else ())
            elif isinstance(node, ir.FactorNode):
                v = self.expr(node.expr, node.ty.plates)
                terms.append(self.total_over(v, node.ty.plates))
            else:
                raise Unsupported(f"the node kind '{node.kind}'")
        total = self.b.const(0.0)
        for t in terms:
            total = total + t
        dim = " + ".join(str(x) for x in offset if x != 0) or "0"
        return Lowered(self.b, self.data_lines, sites, total, dim)

    def latent(self, node: ir.SampleNode, offset: str):
        if node.discrete:
            raise Unsupported(f"the discrete latent '{node.name}' ({self.where()})")
        shape = self.full_shape(node.ty.plates, node.ty.shape)
        kind = node.bijector.kind if node.bijector is not None else "identity"
        if kind not in ("identity", "positive", "lower", "upper", "interval", "ordered", "positive_ordered", "simplex"):
            raise Unsupported(f"the {kind} transform ({self.where()})")
        if kind == "simplex":  # K - 1 unconstrained values per simplex
            if not shape:
                raise Unsupported(f"a scalar simplex ({self.where()})")
            shape = shape[:-1] + (dim_op("-", shape[-1], 1),)
        u = self.b.input(shape, len(node.ty.plates))
        name = u.name
        if shape:
            self.data_lines.append(f"{name}_shape = {self.shape_code(shape)}")
            self.data_lines.append(f"{name}_n = {' * '.join(self.size(x) for x in shape)}")
            self.data_lines.append(f"{name}_lo, {name}_hi = {offset}, {offset} + {name}_n")
        size = f"{name}_n" if shape else "1"
        if not shape and not offset.isdigit():  # a scalar after arrays: its index, computed once
            self.data_lines.append(f"{name}_at = {offset}")
            offset = f"{name}_at"
        x, ladj = self.bijector(kind, node, u)
        self.values[node.name] = (x, node.ty.plates)
        return x, ladj, (node.name, u, offset, size)

    def bijector(self, kind: str, node, u: Val):
        b = node.bijector
        if kind == "identity":
            return u, None
        if kind == "positive":
            return self.b.unary("exp", u), self.b.sum_all(u)
        lo = self.expr(b.lower, ()) if b is not None and b.lower is not None else None
        hi = self.expr(b.upper, ()) if b is not None and b.upper is not None else None
        if kind == "lower":
            return lo + self.b.unary("exp", u), self.b.sum_all(u)
        if kind == "upper":
            return hi - self.b.unary("exp", u), self.b.sum_all(u)
        if kind == "interval":
            width = hi - lo
            s = self.b.unary("sigmoid", u)
            ladj = self.b.sum_all(self.m.log(width) - self.m.softplus(-u) - self.m.softplus(u))
            return lo + width * s, ladj
        if not u.elem:
            raise Unsupported(f"the {kind} transform of a scalar")
        if kind == "simplex":
            return self.simplex(u)
        if kind == "ordered":
            x = self.b.emit("ordered", (u,), u.shape, u.lead, "real")
            tail_shape = u.shape[:-1] + (dim_op("-", u.shape[-1], 1),)
            tail = self.b.emit("index", (u,), tail_shape, u.lead, "real", ("..., 1:",))
            return x, self.b.sum_all(tail)
        x = self.b.emit("cumsum", (self.b.unary("exp", u),), u.shape, u.lead, "real")
        return x, self.b.sum_all(u)

    def simplex(self, u: Val):
        """Stan's stick-breaking, as ``runtime.lib.bijectors.Simplex``: z_k = sigmoid(u_k - log(K-1-k)),
        x_k = z_k Π_{j<k} (1 - z_j), the last x the rest; the products in log space (log(1 - z) is
        -softplus(v)), the exclusive running sum as the inclusive one less its own term."""
        b, k = self.b, u.shape[-1]
        off = b.emit("code", (), (k,), 0, "real", (f"np.log(np.arange({self.size(k)}, 0, -1))",), data=True)
        v = u - off
        log_rest = b.emit("cumsum", (-b.unary("softplus", v),), u.shape, u.lead, "real")
        log_lead = log_rest + b.unary("softplus", v)
        last_shape = u.shape[:-1] + (1,)
        last = b.emit("index", (log_rest,), last_shape, u.lead, "real", ("..., -1:",))
        head = b.unary("sigmoid", v) * b.unary("exp", log_lead)
        size = dim_op("+", k, 1)
        offset = b.integer(self.size(k))
        x = b.emit("concat", (head, b.unary("exp", last), offset), u.shape[:-1] + (size,), u.lead, "real", (2,))
        ladj = b.sum_all(-b.unary("softplus", -v) - b.unary("softplus", v) + log_lead)
        return x, ladj

    def observed(self, node: ir.SampleNode) -> Val:
        if node.name in self.values:
            v, plates = self.values[node.name]
            if not plates and node.ty.plates:  # transformed data: its leading axes are the site's plates
                return v.with_lead(len(node.ty.plates))
            return self.align(v, plates, node.ty.plates)
        v = self.data(node.name)
        if node.ty.plates:  # a data field's leading axes are the plates of its observed site
            v = v.with_lead(len(node.ty.plates))
        return v

    def term(self, dist: ir.Dist, value: Val, plates: tuple) -> Val:
        return self.total_over(self.log_density(dist, value, plates), plates)

    def log_density(self, dist: ir.Dist, value: Val, E: tuple) -> Val:
        """Elementwise log density of ``value`` under ``dist`` (its arguments read in plates ``E``), by the table."""
        formula = densities.density(dist.name, [k for k, _ in dist.args])
        if formula is None:
            raise Unsupported(f"the density of {dist.name}({', '.join(k for k, _ in dist.args)}) ({self.where()})")
        multivariate = formula in densities.MULTIVARIATE
        if any(r for _, r in dist.event_ranks) and not multivariate:
            raise Unsupported(f"the multivariate density {dist.name} ({self.where()})")
        args = {k: self.expr(e, E) for k, e in dist.args}
        if multivariate:
            if E or value.lead or len(value.shape) != 1:
                raise Unsupported(f"{dist.name} of a batch of vectors ({self.where()})")
            if any(a.lead or len(a.shape) > 2 for a in args.values()):
                raise Unsupported(f"{dist.name} with batched arguments ({self.where()})")
        return self.b.lift(formula(self.m, value, **args))

    def total_over(self, lp: Val, plates: tuple) -> Val:
        """Sum over every axis; a plate the term does not vary over counts its size times."""
        total = self.b.sum_all(lp)
        for i, pl in enumerate(plates):
            if not lp.lead or lp.shape[i] == 1:
                total = total * self.b.size_of((self.p.plate(pl).size,))
        return total

    # ------------------------------------------------------------ expressions
    def align(self, v: Val, have: tuple, E: tuple) -> Val:
        """Give ``v`` (leading axes: the plates ``have``) one axis per plate of ``E``."""
        if not have or tuple(have) == tuple(E):
            return v
        if any(pl not in E for pl in have):
            raise Unsupported(f"a value read outside its plates ({self.where()})")
        positions = [E.index(pl) for pl in have]
        if positions != sorted(positions):
            raise Unsupported(f"plates read in another order ({self.where()})")
        index, shape, k = [], [], 0
        for pl in E:
            if pl in have:
                index.append(":")
                shape.append(v.shape[k])
                k += 1
            else:
                index.append("None")
                shape.append(1)
        shape += list(v.shape[len(have) :])
        return self.b.emit("reshape_plates", (v,), tuple(shape), len(E), v.dtype, (", ".join(index),))

    def expr(self, e, E: tuple) -> Val:
        method = getattr(self, "_" + e.kind, None)
        if method is None:
            raise Unsupported(f"the expression kind '{e.kind}' ({self.where()})")
        return method(e, E)

    def _scan(self, e: ir.Scan, E):
        return lower_scan(self, e, E, _Math)

    def _ode(self, e: ir.Ode, E):
        """The solution from the compiled sensitivity system (``ode_sens``); its adjoint contracts the output's
        with the sensitivities, so no step of the solver is differentiated."""
        name, source = ode_sens.helper(e)
        if name is None:
            raise Unsupported(f"this ODE solution ({source}) ({self.where()})")
        y0, args = self.expr(e.y0, E), [self.expr(a, E) for a in e.args]
        t0, ts = self.b.lift(self.expr(e.t0, E)), self.expr(e.ts, E)
        if any(v.lead for v in (y0, *args)):
            raise Unsupported(f"an ODE solution inside a plate ({self.where()})")
        where = f"{e.solver} (line {e.line})"
        times = self.b.emit("ode_times", (t0, ts), (dim_op("+", ts.shape[0], 1),), 0, "real", (where,), data=True)
        spans, offset = [], 0
        for v in (y0, *args):
            size = math.prod(v.shape) if v.shape else 1
            spans.append((offset, offset + size))
            offset += size
        attrs = (name, e.rtol, e.atol, e.max_steps, where, tuple(spans), offset, source)
        return self.b.emit("ode", (times, y0, *args), (ts.shape[0], y0.shape[0]), 0, "real", attrs)

    def _scan_out(self, e: ir.ScanOut, E):
        return lower_scan_out(self, e)

    def _const(self, e: ir.Const, E):
        return self.b.const(float(e.value) if e.ty.dtype == "real" else int(e.value))

    def _ref(self, e: ir.Ref, E):
        if e.role == "dim":
            return self.b.size_of((e.name,))
        if e.role == "plate_index":
            size = self.size(self.p.plate(e.name).size)
            v = self.b.emit("code", (), (self.p.plate(e.name).size,), 1, "int", (f"np.arange({size})",), data=True)
            return self.align(v, (e.name,), E)
        if e.role == "data" and e.name not in self.values:
            return self.data(e.name)
        if e.name not in self.values:
            raise Unsupported(f"the {e.role} '{e.name}' read before it is computed ({self.where()})")
        v, plates = self.values[e.name]
        return self.align(v, plates, E)

    def whole(self, e, E) -> Val:
        """An indexed value: a node declared in plates outside ``E`` (``P[user[r]]`` with ``P`` in plate
        ``u``, read in plate ``r``) is read whole, its plate axes as ordinary axes."""
        if isinstance(e, ir.Ref) and e.name in self.values:
            v, plates = self.values[e.name]
            if plates and any(pl not in E for pl in plates):
                return v.with_lead(0)
        return self.expr(e, E)

    def _plate_slice(self, e: ir.PlateSlice, E):
        if not isinstance(e.base, ir.Ref):
            raise Unsupported(f"a plate slice of an expression ({self.where()})")
        v = self._ref(e.base, ())
        if v.lead:
            raise Unsupported(f"a plate slice of a value already in plates ({self.where()})")
        return self.align(v.with_lead(len(e.plates)), e.plates, E)

    def _binop(self, e: ir.BinOp, E):
        if e.op not in _BINOPS:
            raise Unsupported(f"the operator '{e.op}' ({self.where()})")
        a, b = self.expr(e.left, E), self.expr(e.right, E)
        return self.b.binary(_BINOPS[e.op], a, b)

    def _neg(self, e: ir.Neg, E):
        return self.b.unary("neg", self.expr(e.operand, E))

    def _list(self, e: ir.ListE, E):
        items = [self.expr(x, E) for x in e.items]
        if not all(x.scalar for x in items):  # [a, b] of vectors: the new dim comes first (stack puts it last)
            raise Unsupported(f"a list of vectors ({self.where()})")
        return self.stack(items)

    def _index(self, e: ir.Index, E):
        base = self.whole(e.base, E)
        entries, gather, bounds = [], None, []
        elem = list(base.shape[base.lead :])
        pos = 0
        for item in e.items:
            if item.mode == "select":
                idx = self.expr(item.index, E)
                if idx.const is None and not (idx.data and idx.scalar and idx.dtype == "int"):
                    raise Unsupported(f"an index that is not a constant ({self.where()})")
                if idx.const is None:  # a scan's y[t - 1]: an integer per step, read like a slice bound
                    bounds.append(idx)
                entries.append(str(idx.const) if idx.const is not None else idx.name)
                pos += 1
            elif item.mode == "slice":
                lo = self.expr(item.start, E) if item.start is not None else None
                hi = self.expr(item.stop, E) if item.stop is not None else None
                entries.append(f"{'' if lo is None else lo.name}:{'' if hi is None else hi.name}")
                for bound in (lo, hi):
                    if bound is not None and not bound.data:
                        raise Unsupported(f"a slice bound that depends on the latents ({self.where()})")
                    if bound is not None and bound.const is None:
                        bounds.append(bound)
                pos += 1
            elif item.mode == "gather":
                gather = (len(entries), item.index)
                entries.append(":")
                pos += 1
            else:
                entries.append(":")
                pos += 1
        shape = tuple(base.shape[: base.lead]) + tuple(e.ty.shape)
        if gather is None:
            if all(x == ":" for x in entries):
                return base
            return self.b.emit(
                "index",
                (base, *bounds),
                shape,
                base.lead,
                base.dtype,
                ("..., " + ", ".join(entries + [":"] * (len(elem) - pos)),),
            )
        if bounds:
            raise Unsupported(f"a slice and an indexed read in one index ({self.where()})")
        return self.gather(base, entries, gather, E, e)

    def gather(self, base: Val, entries, gather, E, e: ir.Index):
        pos, index = gather
        if base.lead or pos != 0 or len(entries) != 1:
            raise Unsupported(f"an indexed read of this form ({self.where()})")
        idx = self.expr(index, E)
        if not idx.data:
            raise Unsupported(f"an index computed from the latents ({self.where()})")
        shape = tuple(idx.shape[: idx.lead]) + tuple(e.ty.shape)
        if base.data:
            return self.b.emit("gather", (base, idx), shape, idx.lead, base.dtype)
        flat = self.b.emit("ravel", (idx,), (), 0, "int")
        return self.b.emit("gather", (base, idx, flat), shape, idx.lead, base.dtype)

    def _call(self, e: ir.Call, E):
        f = _ALIAS.get(e.func, e.func)
        static = dict(e.static)
        args = [self.expr(a, E) for a in e.args]
        b = self.b
        if f in _UNARY:
            return b.unary(f, args[0])
        if f in ("log10", "log2"):  # log(x) / log(base): one rule for the three logarithms
            return b.unary("log", args[0]) * (1.0 / math.log(10.0 if f == "log10" else 2.0))
        if f == "log_sigmoid":
            return -b.unary("softplus", -args[0])
        if f == "where":
            return b.where(*args)
        if "axis" in static:
            return self.along(f, args[0], static["axis"])
        if f in ("variance", "sd"):
            return self.variance(f, args[0], None, static["ndims"])
        if f in ("logsumexp", "prod", "max", "min", "norm") and "ndims" in static:
            return self.reduction(f, args[0], static["ndims"])
        if f == "full":
            *sizes, v = args
            ones = self.filled("ones", e)
            return ones if v.const == 1 else self.b.binary("mul", ones, v)
        if f == "concat":
            return self.concat(args, e)
        if f == "stack":
            return self.stack(args)
        if f == "one_hot" and all(a.data for a in args):
            idx, _ = args
            code = f"np.eye({self.size(e.ty.shape[-1])})[{idx.name}]"
            return b.emit("code", (idx,), tuple(idx.shape) + (e.ty.shape[-1],), idx.lead, "real", (code,), data=True)
        if f == "to_real":
            x = args[0]
            return b.emit("to_real", (x,), x.shape, x.lead, "real")
        if f == "pow":
            return b.binary("pow", *args)
        if f == "log_sum_exp" and len(args) == 2:
            return self.b.elementwise("logaddexp", *args)
        if f == "log_mix":
            theta, lp1, lp2 = args
            return self.b.elementwise("logaddexp", self.m.log(theta) + lp1, self.m.log1p(-theta) + lp2)
        if f in ("sum", "mean") and "ndims" in static:
            x, n = args[0], static["ndims"]
            s = b.sum_last(x, n)
            if f == "mean":
                s = s / b.size_of(x.shape[len(x.shape) - n :])
            return s
        if f in ("dot", "matvec"):
            return self.dot(*args)
        if f == "diag":  # a vector as the diagonal of a matrix
            (x,) = args
            if x.lead or len(x.shape) != 1:
                raise Unsupported(f"diag of this form ({self.where()})")
            return b.emit("diag_matrix", (x,), (x.shape[0], x.shape[0]), 0, "real")
        if f == "matmul":
            A, B = args
            if A.lead or B.lead or len(A.shape) != 2 or len(B.shape) != 2:
                raise Unsupported(f"matmul of this form ({self.where()})")
            return b.emit("matmul", (A, B), (A.shape[0], B.shape[1]), 0, "real")
        if f == "vecmat":
            x, A = args
            if x.lead or A.lead or len(x.shape) != 1 or len(A.shape) != 2:
                raise Unsupported(f"vecmat of this form ({self.where()})")
            return b.emit("vecmat", (x, A), A.shape[1:], 0, "real")
        if f == "transpose":
            (A,) = args
            if A.lead or len(A.shape) != 2:
                raise Unsupported(f"transpose of this form ({self.where()})")
            return b.emit("transpose", (A,), A.shape[::-1], 0, A.dtype)
        if f == "cholesky":
            (A,) = args
            if A.lead or len(A.shape) != 2:
                raise Unsupported(f"cholesky of a batch of matrices ({self.where()})")
            n = self.size(A.shape[0])
            mask = b.emit("code", (), A.shape, 0, "real", (f"np.tri({n})",), data=True)
            half = b.emit("code", (), A.shape, 0, "real", (f"np.tri({n}) - 0.5 * np.eye({n})",), data=True)
            return b.emit("cholesky", (A, mask, half), A.shape, 0, "real")
        if f in KERNELS and not static.get("points_rank"):
            return lower_kernel(self, f, args)
        if f == "hmm_marginal":
            lo, gamma, rho = args
            if lo.lead or gamma.lead or rho.lead:
                raise Unsupported(f"hmm_marginal inside a plate ({self.where()})")
            return b.emit("hmm_marginal", (lo, gamma, rho), (), 0, "real")
        if f == "recurrence":
            a, seq, init = args
            if not (a.scalar and init.scalar and len(seq.shape) == 1 and not seq.lead):
                raise Unsupported(f"recurrence inside a plate or over a matrix ({self.where()})")
            return b.emit("recurrence", (a, seq, init), seq.shape, 0, "real")
        if f in ("ones", "zeros", "arange", "eye") and all(a.data for a in args):
            return self.filled(f, e)
        raise Unsupported(f"the function '{e.func}' ({self.where()})")

    def reduction(self, f: str, x: Val, n: int) -> Val:
        if n <= 0:
            return x
        if n > x.elem:
            raise Unsupported(f"{f} over more dims than the value has ({self.where()})")
        if f != "logsumexp":
            if not x.data:
                raise Unsupported(f"the function '{f}' of the latents ({self.where()})")
        axes = tuple(range(len(x.shape) - n, len(x.shape)))
        return self.b.emit(f, (x,), x.shape[: len(x.shape) - n], x.lead, "real", (axes,))

    def along(self, f: str, x: Val, axis: int) -> Val:
        """A reduction over, or a scan along, one element dim (``axis`` counted from the end)."""
        if x.elem < -axis:
            raise Unsupported(f"{f} along a dim the value does not have here ({self.where()})")
        ax = len(x.shape) + axis  # its position in the full shape, plate axes included
        shape = x.shape[:ax] + x.shape[ax + 1 :]
        b = self.b
        if f in ("sum", "mean"):
            s = b.emit("sum", (x,), shape, x.lead, "real" if f == "mean" else x.dtype, ((ax,),))
            return s / b.size_of((x.shape[ax],)) if f == "mean" else s
        if f in ("variance", "sd"):
            return self.variance(f, x, ax, 0)
        if f == "cumsum":
            return b.emit("cumsum", (x,), x.shape, x.lead, "real", (ax,))
        if f in ("softmax", "log_softmax"):
            lse = b.emit("logsumexp", (x,), shape, x.lead, "real", ((ax,),))
            ls = x - self.unsqueeze(lse, (ax,))
            return ls if f == "log_softmax" else b.unary("exp", ls)
        if f != "logsumexp" and not x.data:
            raise Unsupported(f"the function '{f}' of the latents ({self.where()})")
        return b.emit(f, (x,), shape, x.lead, "real" if f != "sum" else x.dtype, ((ax,),))

    def variance(self, f: str, x: Val, ax: int | None, ndims: int) -> Val:
        """The sample variance (n - 1) over one axis, or over the last ``ndims`` element dims."""
        b = self.b
        axes = (ax,) if ax is not None else tuple(range(len(x.shape) - ndims, len(x.shape)))
        if not axes or x.elem < len(axes):
            raise Unsupported(f"{f} of this form ({self.where()})")
        shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
        n = b.size_of(tuple(x.shape[i] for i in axes))
        mean = b.emit("sum", (x,), shape, x.lead, "real", (axes,)) / n
        dev = x - self.unsqueeze(mean, axes)
        var = b.emit("sum", (b.unary("square", dev),), shape, x.lead, "real", (axes,)) / (n - 1)
        return b.unary("sqrt", var) if f == "sd" else var

    def unsqueeze(self, v: Val, axes: tuple) -> Val:
        """``v`` with singleton axes back where a reduction took them, to broadcast against its argument."""
        shape = list(v.shape)
        for a in axes:
            shape.insert(a, 1)
        return self.b.emit("unsqueeze", (v,), tuple(shape), v.lead, v.dtype, (tuple(axes),))

    def concat(self, items: list, e: ir.Call) -> Val:
        """Along the last axis; the offsets of the pieces are sizes computed in ``make``."""
        if any(x.scalar for x in items) or len({x.lead for x in items}) > 1 or len({len(x.shape) for x in items}) > 1:
            raise Unsupported(f"concat of pieces of different ranks ({self.where()})")
        if any(x.shape[:-1] != items[0].shape[:-1] for x in items):
            raise Unsupported(f"concat of pieces that broadcast ({self.where()})")
        lengths = [x.shape[-1] for x in items]
        offsets, total = [], "0"
        for n in lengths:
            total = f"{total} + {self.size(n)}" if total != "0" else self.size(n)
            offsets.append(self.b.integer(total))
        shape = items[0].shape[:-1] + (e.ty.shape[-1],)
        return self.b.emit("concat", (*items, *offsets[:-1]), shape, items[0].lead, "real", (len(items),))

    def stack(self, items: list) -> Val:
        if all(x.scalar for x in items):
            return self.b.emit("stack", tuple(items), (len(items),), 0, "real")
        first = items[0]
        if any(x.shape != first.shape or x.lead != first.lead for x in items):
            raise Unsupported(f"stack of values of different shapes ({self.where()})")
        return self.b.emit("stack", tuple(items), first.shape + (len(items),), first.lead, "real")

    def filled(self, f: str, e: ir.Call) -> Val:
        shape = e.ty.shape
        code = {
            "ones": f"np.ones({self.shape_code(shape)})",
            "zeros": f"np.zeros({self.shape_code(shape)})",
            "arange": f"np.arange({self.size(shape[0])})",
            "eye": f"np.eye({self.size(shape[0])})",
        }[f]
        return self.b.emit("code", (), shape, 0, "int" if f == "arange" else "real", (code,), data=True)

    def dot(self, a: Val, b: Val) -> Val:
        """Sum over the last axis of a * b; a matrix (or rows in plates) times one vector is a matvec."""
        if len(a.shape) == 1 and not a.lead and len(b.shape) == 2:
            a, b = b, a
        if len(b.shape) == 1 and not b.lead and len(a.shape) == 2 and a.shape[1] == b.shape[0]:
            return self.b.emit("matvec", (a, b), a.shape[:1], a.lead, "real")
        if len(a.shape) == 1 and len(b.shape) == 1 and not a.lead and not b.lead:
            return self.b.emit("vdot", (a, b), (), 0, "real")
        if not a.elem or not b.elem:
            raise Unsupported(f"dot of a scalar ({self.where()})")
        return self.b.sum_last(a * b, 1)

    def _logpdf(self, e: ir.LogPdf, E):
        lp = self.log_density(e.dist, self.expr(e.value, E), E)
        return self.b.sum_last(lp, e.sum_rank) if e.sum_rank else lp


def lower_program(program: ir.ProgramIR, spans: dict | None = None) -> Lowered:
    return Lowering(program, spans).run()

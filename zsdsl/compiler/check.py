"""``check_program(ast.Program) -> ir.ProgramIR``: names, types, shapes and supports.

Walks the blocks in order, collecting every error of the stage (one per
declaration or statement) and raising them together as an ``ErrorGroup`` sorted by
position. On success the typed DAG IR is returned.
"""

from __future__ import annotations

import dataclasses

from zsdsl.compiler import ir
from zsdsl.compiler.check_critic import check_critic, note_implicit, score_node
from zsdsl.compiler.check_expr import ExprChecker
from zsdsl.compiler.check_functions import define_function
from zsdsl.compiler.check_nets import NetError, NetInfo, parse_net
from zsdsl.compiler.check_scan import check_scan, scan_names
from zsdsl.compiler.scope import Cascade, Scope, Sym, did_you_mean
from zsdsl.compiler.shapes import ShapeMismatch, broadcast, fmt_shape
from zsdsl.compiler.supports import declared_support, latent_support, param_support
from zsdsl.errors import ErrorGroup, NameError_, ShapeError, SupportError, TypeError_, ZsdslError
from zsdsl.grammar import ast as A

BASE_TYPES = ("real", "int", "bool", "simplex", "ordered", "positive_ordered", "corr_cholesky", "cholesky", "cov")
# Stan's types, and what they are here (the hint of "Unknown type")
STAN_TYPES = {
    "vector": " Stan's vector[N] is real[N] here.",
    "row_vector": " Stan's row_vector[N] is real[N] here.",
    "matrix": " Stan's matrix[N, K] is real[N, K] here.",
    "array": " Stan's array[N] int is int[N] here (array[N] real is real[N]).",
    "cov_matrix": " Stan's cov_matrix[K] is cov[K] here.",
    "corr_matrix": " A correlation matrix is written by its factor: corr_cholesky[K] (Stan's cholesky_factor_corr).",
    "cholesky_factor_corr": " Stan's cholesky_factor_corr[K] is corr_cholesky[K] here.",
    "cholesky_factor_cov": " Stan's cholesky_factor_cov[K] is cholesky[K] here.",
    "unit_vector": " There is no unit_vector type; normalise a real[K]: v / norm(v).",
}
SAMPLE_OPTIONS = ("event", "enumerate")
ASSIGN_OPTIONS = ("hidden",)
PLATE_OPTIONS = ("subsample",)


class _Collector:
    def __init__(self):
        self.errors: list[ZsdslError] = []
        self.failures = 0  # statements that failed, those whose only error is a cascade included
        self.cascaded = False  # the last failure was a cascade

    def run(self, fn, *args):
        try:
            return fn(*args)
        except ErrorGroup as group:
            self.failures += 1
            self.errors.extend(e for e in group.errors if not isinstance(e, Cascade))
        except Cascade:
            # the line reads a name whose own line failed: that first error says it all
            self.failures += 1
            self.cascaded = True
        except ZsdslError as err:
            self.failures += 1
            self.errors.append(err)
        return None


def check_program(program: A.Program, warnings: list | None = None) -> ir.ProgramIR:
    """Check a parsed program and lower it to the typed IR; raises ``ErrorGroup`` on user errors.
    ``warnings`` (a list) receives the ``SpecWarning``s of a program that checks."""
    checker = _ProgramChecker(program)
    result = checker.check()
    if warnings is not None:
        warnings.extend(sorted(checker.ex.warnings, key=lambda w: w.sort_key()))
    return result


class _ProgramChecker:
    def __init__(self, program: A.Program):
        self.p = program
        self.col = _Collector()
        self.scope = Scope(later=_declared_later(program))
        self.plate_size: dict[str, ir.Dim] = {}
        self.plates: dict[str, ir.PlateNode] = {}
        self.nets: dict[str, NetInfo] = {}
        self.ex = ExprChecker(self.scope, self.plate_size, self.nets)
        self.dims: dict[str, ir.DimNode] = {}
        self.data: list[ir.DataNode] = []
        self.observed: set[str] = set()
        self.n_factors = 0
        self.implicit: dict[str, tuple[str, ...]] = {}  # observed `~ Implicit(...)` sites and their plates
        self.critic: dict | None = None  # while a critic block is checked: its name and score lines

    # ------------------------------------------------------------ driver
    def check(self) -> ir.ProgramIR:
        for f in self.p.functions:  # pure: checked before everything, they read nothing of the model
            self.col.run(define_function, self.ex, f)
        derived = _derived_dims(self.p.dims)
        for d in self.p.dims:
            if d not in derived:
                self.col.run(self._dim_decl, d)
        for d in self.p.data:
            self.col.run(self._data_decl, d)
        for d in derived:  # sizes computed from the data's sizes (Tm1 = T - 1), once those are bound
            self.col.run(self._dim_decl, d)
        params = [x for x in (self.col.run(self._param_decl, d, self.scope) for d in self.p.params) if x]
        for n in self.p.nets:
            self.col.run(self._net_decl, n, self.scope, self.nets)
        nodes: list = []
        for info in list(self.nets.values()):
            if info.prior is not None:
                nodes.extend(self.col.run(self._weight_latents, info) or [])
        nodes.extend(self._block(self.p.body, ()))
        guides = [g for g in (self.col.run(self._guide, g) for g in self.p.guides if g.kind == "guide") if g]
        blocks = [g for g in self.p.guides if g.kind == "critic"]
        critics = [c for c in (self.col.run(check_critic, self, g, _net_node) for g in blocks) if c]
        generated = self._block(self.p.generated, (), generated=True) if self.p.generated else []
        if self.col.errors:
            raise ErrorGroup(self.col.errors)
        return ir.ProgramIR(
            name=self.p.name or _stem(self.p.file),
            data=tuple(self.data),
            dims=tuple(self.dims.values()),
            plates=tuple(self.plates.values()),
            params=tuple(params),
            nets=tuple(_net_node(i) for i in self.nets.values()),
            nodes=tuple(nodes),
            guides=tuple(guides),
            critics=tuple(critics),
            generated=tuple(generated),
        )

    # ------------------------------------------------------------ declarations
    def _dim_decl(self, d: A.DimDecl):
        if d.value is None:
            node = ir.DimNode(name=d.name)
            value: ir.Dim = d.name
        else:
            value = self.ex.eval_dim(d.value)
            if isinstance(value, int) and value < 0:
                raise ShapeError(f"A size must be a non-negative integer; '{d.name}' is {value}.", d.value.span)
            if isinstance(value, int):
                node = ir.DimNode(name=d.name, value=value)
            else:
                node = ir.DimNode(name=d.name, expr=value)
        self.scope.define(Sym(d.name, "dim", "int", span=d.span, dim_value=value))
        self.dims[d.name] = node

    def _undefined_in(self, stmt) -> list:
        """Names on a statement that are undefined in their own right (not because their line failed)."""
        seen, out = set(), []
        for name in _names_anywhere(stmt):
            if name.id in seen or self.scope.lookup(name.id) is not None or name.id in self.scope.failed:
                continue
            seen.add(name.id)
            out.append(self.scope.undefined(name.id, name.span))
        return out

    def _type_shape(self, t: A.TypeSpec, bind_field: str | None = None) -> ir.Shape:
        if t.base not in BASE_TYPES:
            hint = STAN_TYPES.get(t.base) or did_you_mean(t.base, BASE_TYPES)
            raise TypeError_(f"Unknown type '{t.base}'.{hint}", t.span)
        shape = []
        for axis, e in enumerate(t.shape):
            if bind_field and isinstance(e, A.Name) and self.scope.lookup(e.id) is None:
                # A name used only in a data shape is a size bound from that field's axis.
                self.scope.define(Sym(e.id, "dim", "int", span=e.span, dim_value=e.id))
                self.dims[e.id] = ir.DimNode(name=e.id, source=(bind_field, axis))
            shape.append(self.ex.eval_dim(e))
        if t.base in ("corr_cholesky", "cholesky", "cov"):
            if len(shape) != 1:
                raise ShapeError(f"{t.base}[D] takes one size and stands for a [D, D] matrix.", t.span)
            shape = [shape[0], shape[0]]
        if t.base in ("simplex", "ordered", "positive_ordered") and len(shape) != 1:
            raise ShapeError(f"{t.base} is a vector type: write {t.base}[K].", t.span)
        return tuple(shape)

    def _data_decl(self, d: A.DataDecl):
        shape = self._type_shape(d.type, bind_field=d.name)
        dtype = "int" if d.type.base in ("int", "bool") else "real"
        support = self._support(d.type, dtype, ())
        dim_value = d.name if dtype == "int" and not shape else None
        self.scope.define(Sym(d.name, "data", dtype, shape, span=d.span, support=support, dim_value=dim_value))
        if dim_value is not None:
            self.dims.setdefault(d.name, ir.DimNode(name=d.name, source=(d.name, -1)))
        self.data.append(ir.DataNode(name=d.name, ty=ir.Ty(dtype=dtype, shape=shape), support=support))

    def _support(self, t: A.TypeSpec, dtype: str, E) -> ir.Support:
        bounds = {}
        for key in ("lower", "upper"):
            e = getattr(t, key)
            if e is not None and not (isinstance(e, A.Num) and abs(e.value) == float("inf")):
                x = self.ex.expr(e, E)
                if x.ty.rank or x.ty.dtype == "bool":
                    raise TypeError_(f"The {key} bound must be a scalar number.", e.span)
                for name in sorted(ir.expr_refs(x)):
                    sym = self.scope.lookup(name)
                    varies = sym is not None and (sym.role in ("latent", "weights", "param") or
                                                  (sym.role == "det" and not sym.data_only))  # fmt: skip
                    if varies:
                        what = "learnable parameter" if sym.role == "param" else "latent"
                        raise SupportError(
                            f"The {key} bound reads the {what} '{name}'; bounds may use data, dims and constants "
                            "(bounds that depend on latents or params are not supported yet).",
                            e.span,
                        )
                bounds[key] = x
        values = None
        if t.values is not None:
            values = []
            for v in t.values:
                if not isinstance(v, A.Num):
                    raise TypeError_("A value set lists numbers, e.g. in {0, 1}.", v.span)
                values.append(v.value)
        opens = (t.lower_open, t.upper_open)
        return declared_support(t.base, bounds.get("lower"), bounds.get("upper"), values, dtype, opens)

    def _param_decl(self, d: A.ParamDecl, scope: Scope):
        shape = self._type_shape(d.type)
        dtype = "int" if d.type.base in ("int", "bool") else "real"
        if dtype != "real":
            raise TypeError_("Learnable parameters are real-valued.", d.type.span)
        support = self._support(d.type, dtype, ())
        init = self.ex.expr(d.init, ()) if d.init is not None else None
        scope.define(Sym(d.name, "param", dtype, shape, span=d.span, support=support))
        return ir.ParamNode(
            name=d.name, ty=ir.Ty(dtype=dtype, shape=shape), support=support, bijector=param_support(support), init=init
        )

    def _net_decl(self, d: A.NetDecl, scope: Scope, nets: dict):
        try:
            info = parse_net(d, self.ex.eval_dim)
        except NetError as exc:
            raise TypeError_(str(exc), exc.span or d.span) from None
        scope.define(Sym(d.name, "net", span=d.span))
        nets[d.name] = info

    def _weight_latents(self, info: NetInfo) -> list[ir.SampleNode]:
        out = []
        for wname, shape in info.weight_shapes:
            dist, sig, intrinsic = self.ex.dist(info.prior, ())
            if sig.discrete or intrinsic:
                raise TypeError_("A weight prior must be a scalar continuous distribution.", info.prior.span)
            support, bij = latent_support(sig, dist, None, info.prior.span)
            name = f"{info.name}.{wname}"
            self.scope.syms[name] = Sym(name, "latent", "real", shape, span=info.span)
            out.append(
                ir.SampleNode(
                    name=name,
                    observed=False,
                    dist=dist,
                    ty=ir.Ty(dtype="real", shape=shape),
                    sum_rank=len(shape),
                    support=support,
                    bijector=bij,
                    reparam=sig.reparam,
                )
            )
        return out

    # ------------------------------------------------------------ statements
    def _block(self, stmts, E, generated=False, guide=None) -> list:
        out = []
        for s in stmts:
            before = self.col.failures
            self.col.cascaded = False
            result = self.col.run(self._stmt, s, E, generated, guide)
            if result:
                out.extend(result)
            if self.col.cascaded and not isinstance(s, (A.Plate, A.Scan)):
                self.col.errors.extend(self._undefined_in(s))  # what else is wrong on that line
            if self.col.failures > before:  # its later uses are not errors of their own
                self.scope.failed.update(_defined_by(s))
        return out

    def _stmt(self, s, E, generated, guide):
        if isinstance(s, A.Plate):
            return self._plate(s, E, generated, guide)
        if isinstance(s, A.Scan):
            return check_scan(self, s, E, generated, guide)
        if isinstance(s, A.Score):
            return [score_node(self, s, E)]
        if isinstance(s, A.Factor):
            x = self.ex.expr(s.value, E)
            if x.ty.dtype == "bool":
                raise TypeError_("factor needs a number (a log-density term), got a comparison.", s.span)
            self.n_factors += 1
            name = f"factor_{self.n_factors}"
            return [ir.FactorNode(name=name, expr=x, ty=x.ty, deps=tuple(sorted(ir.expr_refs(x))))]
        if isinstance(s, A.Assign):
            return [self._assign(s, E)]
        return [self._sample(s, E, generated, guide)]

    def _plate(self, s: A.Plate, E, generated, guide):
        if s.var in E:
            raise NameError_(f"Plate '{s.var}' is nested inside itself.", s.span)
        size = self.ex.eval_dim(s.size)
        opts = self._options(s.options, PLATE_OPTIONS)
        sub = None
        if "subsample" in opts:
            o = opts["subsample"]
            if not (isinstance(o.value, A.Num) and isinstance(o.value.value, int) and o.value.value > 0):
                raise TypeError_("subsample= takes a positive integer batch size.", o.span)
            sub = o.value.value
        existing = self.plates.get(s.var)
        if guide is not None or generated:
            if existing is None and guide is not None:
                raise NameError_(f"Guide plate '{s.var}' has no counterpart in the model.", s.span)
            if existing is not None and existing.size != size:
                raise ShapeError(f"Plate '{s.var}' ranges over {existing.size} in the model but {size} here.", s.span)
        elif existing is not None:
            if existing.size != size:
                raise ShapeError(f"Plate '{s.var}' was declared over {existing.size}; here over {size}.", s.span)
        else:
            if self.scope.lookup(s.var) is not None:
                raise NameError_(f"The plate index '{s.var}' shadows an existing name.", s.span)
            self.plates[s.var] = ir.PlateNode(name=s.var, size=size, subsample=sub, parent=E[-1] if E else None)
            self.plate_size[s.var] = size
            self.scope.syms[s.var] = Sym(s.var, "plate_index", "int", span=s.span)
        if existing is None and (guide is not None or generated):
            self.plates[s.var] = ir.PlateNode(name=s.var, size=size, subsample=sub, parent=E[-1] if E else None)
            self.plate_size[s.var] = size
            self.scope.syms[s.var] = Sym(s.var, "plate_index", "int", span=s.span)
        inner = (*E, s.var)
        mark = set(self.ex.scope.syms)
        out = self._block(s.body, inner, generated, guide)
        for name in set(self.ex.scope.syms) - mark:
            sym = self.ex.scope.syms[name]
            if sym.local:
                del self.ex.scope.syms[name]  # plate-local values end with their plate
                self.ex.scope.ended[name] = sym.plates[-1]
        return out

    def _options(self, options, allowed) -> dict:
        out = {}
        for o in options:
            if o.name not in allowed:
                hint = did_you_mean(o.name, allowed)
                raise TypeError_(f"Unknown option '{o.name}' (expected {', '.join(allowed)}).{hint}", o.span)
            out[o.name] = o
        return out

    def _target_plates(self, t: A.Target, E) -> tuple[tuple[str, ...], bool]:
        if not t.indices:
            return E, bool(E)
        if tuple(t.indices) != tuple(E):
            want = f"{t.name}[{', '.join(E)}]" if E else t.name
            raise ShapeError(f"Inside plate(s) {', '.join(E) or '(none)'}, index the declared node as {want}.", t.span)
        return E, False

    def _assign(self, s: A.Assign, E):
        plates, local = self._target_plates(s.target, E)
        opts = self._options(s.options, ASSIGN_OPTIONS)
        if "hidden" in opts and opts["hidden"].value is not None:
            raise TypeError_("'hidden' takes no value: write 'h = expr, hidden'.", opts["hidden"].span)
        x = self.ex.expr(s.value, E)
        if tuple(x.ty.plates) != tuple(plates) and plates:
            x_plates = set(x.ty.plates)
            missing = [p for p in plates if p not in x_plates]
            if missing and not local:
                pass  # a value constant along a plate is broadcast over it
        if s.type is not None:
            raise TypeError_("Deterministic nodes take their type from their expression; drop the annotation.", s.span)
        data_only = not plates and self._data_only(x)
        self.scope.define(
            Sym(s.target.name, "det", x.ty.dtype, x.ty.shape, plates, span=s.span, local=local, data_only=data_only)
        )
        return ir.DetNode(
            name=s.target.name,
            expr=x,
            ty=ir.Ty(dtype=x.ty.dtype, shape=x.ty.shape, plates=plates),
            deps=tuple(sorted(ir.expr_refs(x))),
            data_only=data_only,
            hidden="hidden" in opts,
        )

    def _data_only(self, x) -> bool:
        """Whether an expression reads only data, sizes and data-only deterministic nodes."""
        from zsdsl.compiler.supports import _roles

        names = ir.expr_refs(x)
        if any(self.scope.lookup(n) is not None and self.scope.lookup(n).role == "net" for n in names):
            return False
        for n in names:
            sym = self.scope.lookup(n)
            if sym is None or not (sym.role in ("data", "dim") or sym.data_only):
                return False
        return not (_roles(x) - {"data", "dim", "det", *ir.LOOP_ROLES})

    def _sample(self, s: A.Sample, E, generated, guide):
        plates, local = self._target_plates(s.target, E)
        opts = self._options(s.options, SAMPLE_OPTIONS)
        dist, sig, intrinsic = self.ex.dist(s.dist, E)
        event = ()
        sym0 = self.scope.lookup(s.target.name)
        if sig.name == "Implicit":
            note_implicit(self, s, sym0 is not None and sym0.role == "data" and guide is None, guide, plates)
        if "event" in opts:
            o = opts["event"]
            if not isinstance(o.value, A.ListExpr):
                raise TypeError_("event= takes a list of sizes, e.g. event=[784].", o.span)
            event = tuple(self.ex.eval_dim(e) for e in o.value.items)
        name = s.target.name
        sym = self.scope.lookup(name)
        observed = sym is not None and (sym.role == "data" or sym.data_only) and guide is None
        if observed:
            value_shape, dtype = self._observed_shape(s, sym, E, plates)
            if name in self.observed:
                raise NameError_(f"Data '{name}' is already observed by another statement.", s.target.span)
            self.observed.add(name)
            if sig.dtype == "int" and dtype == "real" and not _fits_unit(sig, sym):
                raise TypeError_(f"{sig.name} is discrete but data '{name}' is declared real.", s.target.span)
        else:
            if sym is not None and sym.role == "det" and guide is None and not generated:
                raise NameError_(_computed_value_hint(name, sym, s.dist), s.target.span)
            value_shape, dtype = None, sig.dtype
        try:
            batch_full = broadcast(dist.ty.shape, event) if event else dist.ty.shape
        except ShapeMismatch as exc:
            raise ShapeError(f"The distribution does not fit event={fmt_shape(event)}: {exc}.", s.span) from None
        if event and tuple(batch_full[len(batch_full) - len(event) :]) != tuple(event):
            raise ShapeError(f"event={fmt_shape(event)} does not match the distribution's shape.", s.span)
        if s.type is not None and not observed:
            ann_shape = self._type_shape(s.type)
            ann_batch = ann_shape[: len(ann_shape) - len(intrinsic)]
            ann_event = tuple(ann_shape[len(ann_shape) - len(intrinsic) :]) if intrinsic else ()
            if intrinsic and (len(ann_shape) < len(intrinsic) or ann_event != tuple(intrinsic)):
                raise ShapeError(f"The declared shape {fmt_shape(tuple(ann_shape))} does not fit one draw of "
                                 f"{sig.name}(...), which is {fmt_shape(tuple(intrinsic))}.", s.type.span)  # fmt: skip
            try:
                if broadcast(batch_full, ann_batch) != tuple(ann_batch):
                    raise ShapeMismatch(f"{fmt_shape(batch_full)} vs {fmt_shape(ann_batch)}")
            except ShapeMismatch as exc:
                raise ShapeError(f"The declared shape does not fit the distribution: {exc}.", s.type.span) from None
            batch_full = ann_batch
        full = (*batch_full, *intrinsic)
        if observed and tuple(value_shape) != tuple(full):
            try:
                if broadcast(full, value_shape) != tuple(value_shape):
                    raise ShapeMismatch("")
            except ShapeMismatch:
                raise ShapeError(
                    f"Data '{name}' has element shape {fmt_shape(value_shape)} but {sig.name}(...) gives "
                    f"{fmt_shape(full)}{'' if event else '; declare event= dims if they are one draw'}.",
                    s.span,
                ) from None
            full = tuple(value_shape)
        enum = "enumerate" in opts
        if enum and (observed or not sig.finite):
            raise SupportError(
                f"Only latent finite discrete variables can be enumerated; {sig.name} is not one.",
                opts["enumerate"].span,
            )
        support, bij = (None, None)
        if observed:
            support = sym.support or ir.Support(kind="real")
        else:
            ann_dtype = "int" if s.type is not None and s.type.base in ("int", "bool") else "real"
            ann = self._support(s.type, ann_dtype, E) if s.type is not None else None
            if s.type is not None:
                self._check_declared(s, sig, ann)
            support, bij = latent_support(sig, dist, ann, s.span)
            if guide is not None:
                self._check_guide_site(s, name, full, plates)
            else:
                role = "latent"
                self.scope.define(Sym(name, role, dtype, full, plates, span=s.span, local=local, support=support))
        return ir.SampleNode(
            name=name,
            observed=observed,
            dist=dist,
            ty=ir.Ty(dtype=dtype, shape=full, plates=plates),
            sum_rank=len(full) - len(intrinsic),
            support=support,
            bijector=bij,
            reparam=sig.reparam,
            discrete=sig.discrete,
            enumerate=enum,
            deps=tuple(sorted(ir.expr_refs(dist))),
        )

    def _observed_shape(self, s, sym: Sym, E, plates):
        if len(sym.plates) == 0 and plates:
            lead = tuple(self.plate_size[p] for p in plates)
            if tuple(sym.shape[: len(lead)]) != lead:
                raise ShapeError(
                    f"Data '{sym.name}' has shape {fmt_shape(sym.shape)}; inside plate(s) {', '.join(plates)} "
                    f"its leading dims must be {fmt_shape(lead)}.",
                    s.target.span,
                )
            return sym.shape[len(lead) :], sym.dtype
        return sym.shape, sym.dtype

    def _check_declared(self, s: A.Sample, sig, ann: ir.Support) -> None:
        if sig.discrete and ann.kind not in ("int_any", "set", "boolean", "int_nonneg", "int_range", "interval_int"):
            raise SupportError(
                f"{sig.name} is discrete but '{s.target.name}' is declared {s.type.base}; declare it int.", s.type.span
            )
        if not sig.discrete and s.type.base in ("int", "bool"):
            raise SupportError(
                f"{sig.name} is continuous but '{s.target.name}' is declared {s.type.base}.", s.type.span
            )

    # ------------------------------------------------------------ guides
    def _guide(self, g: A.Guide) -> ir.GuideIR:
        outer = self.scope
        gscope = Scope.for_block(outer)
        saved = (self.scope, self.ex.scope, self.nets, self.ex.nets, self.observed)
        self.scope = self.ex.scope = gscope
        self.model_latents = {n.name: n for n in outer.syms.values() if n.role == "latent"}
        self.guide_sampled: set[str] = set()
        gnets: dict = {}
        self.nets = self.ex.nets = gnets
        try:
            params = [x for x in (self.col.run(self._param_decl, d, gscope) for d in g.params) if x]
            for n in g.nets:
                self.col.run(self._net_decl, n, gscope, gnets)
            before = len(self.col.errors)
            nodes = self._block(g.body, (), guide=g.name)
            missing = sorted(set(self.model_latents) - self.guide_sampled)
            if missing and len(self.col.errors) == before:
                raise NameError_(
                    f"Guide '{g.name}' does not sample the latent{'s' if len(missing) > 1 else ''} "
                    f"{', '.join(repr(m) for m in missing)}; every latent of the model needs a guide site.",
                    g.span,
                )
            return ir.GuideIR(
                name=g.name, params=tuple(params), nets=tuple(_net_node(i) for i in gnets.values()), nodes=tuple(nodes)
            )
        finally:
            self.scope, self.ex.scope, self.nets, self.ex.nets, self.observed = saved

    def _check_guide_site(self, s, name, full, plates) -> None:
        model = self.model_latents.get(name)
        if model is None:
            hint = did_you_mean(name, self.model_latents)
            raise NameError_(f"The guide samples '{name}', which is not a latent of the model.{hint}", s.target.span)
        if tuple(model.shape) != tuple(full) or tuple(model.plates) != tuple(plates):
            raise ShapeError(
                f"The guide's '{name}' has shape {fmt_shape(full)} in plates ({', '.join(plates)}) but the model's "
                f"has {fmt_shape(model.shape)} in plates ({', '.join(model.plates)}).",
                s.span,
            )
        self.guide_sampled.add(name)
        self.scope.define(Sym(name, "latent", model.dtype, full, plates, span=s.span))


def _stem(file: str) -> str:
    """A model name from its file name (``specs/gmm.zs`` → ``gmm``) when there is no header."""
    base = file.replace("\\", "/").rsplit("/", 1)[-1].split(".", 1)[0]
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in base)
    return name if name and not name[0].isdigit() and not name.startswith("<") else "model"


def _fits_unit(sig, sym: Sym) -> bool:
    """Real data in [0, 1] may be observed by a Bernoulli (e.g. grey-level MNIST)."""
    sup = sym.support
    if sig.name != "Bernoulli" or sup is None or sup.kind != "interval":
        return False
    lo, hi = sup.lower, sup.upper
    return isinstance(lo, ir.Const) and isinstance(hi, ir.Const) and lo.value >= 0 and hi.value <= 1


def _net_node(info: NetInfo) -> ir.NetNode:
    layers = tuple(
        (ctor, tuple(sorted((k, _freeze(v)) for k, v in settings.items() if v is not None)))
        for ctor, settings in info.layers
    )
    return ir.NetNode(
        name=info.name,
        ctor=info.ctor,
        layers=layers,
        in_shape=tuple(info.in_shape or ()),
        out_shape=tuple(info.out_shape or ()),
        prior=None,
        weight_shapes=tuple((n, tuple(s)) for n, s in info.weight_shapes),
    )


def _freeze(v):
    if isinstance(v, list):
        return tuple(v)
    return v


def _declared_later(program: A.Program) -> dict:
    """Every name a statement of the model declares, with its span, for 'used before defined'."""
    found: dict = {}

    def walk(stmts):
        for s in stmts:
            if isinstance(s, A.Plate):
                walk(s.body)
            elif isinstance(s, A.Scan):
                for name in scan_names(s):
                    found.setdefault(name, s.span)
            elif isinstance(s, (A.Sample, A.Assign)):
                found.setdefault(s.target.name, s.span)

    walk(program.body)
    walk(program.generated)
    return found


def _defined_by(s) -> list[str]:
    """The names a statement defines for the statements after it (none for a plate or factor)."""
    if isinstance(s, A.Scan):
        return scan_names(s)
    return [s.target.name] if isinstance(s, (A.Assign, A.Sample)) else []


def _derived_dims(dims) -> list:
    """The dims whose value names something other than the dims declared before them (a data size)."""
    derived, earlier = [], set()
    for d in dims:
        if d.value is not None and {x.id for x in _names_anywhere(d.value)} - earlier:
            derived.append(d)
        earlier.add(d.name)
    return derived


def _names_anywhere(node):
    """Every ``Name`` in an AST node, in source order."""
    if isinstance(node, A.Name):
        yield node
    elif isinstance(node, tuple):
        for item in node:
            yield from _names_anywhere(item)
    elif dataclasses.is_dataclass(node):
        for f in dataclasses.fields(node):
            if f.name != "span":
                yield from _names_anywhere(getattr(node, f.name))


def _computed_value_hint(name: str, sym, dist) -> str:
    """Stan's ``err ~ normal(0, sigma)`` on a computed ``err``: here, the log density is a factor."""
    call = dist.func if isinstance(dist, A.Call) else "Normal"
    at = f" at line {sym.span.line}" if sym.span.line else ""
    vector = " (a factor of a vector adds up its elements)" if sym.shape or sym.plates else ""
    return (f"'{name}' is computed{at}, so '~' cannot sample it. To add the log density of a computed value "
            f"(Stan's '{name} ~ ...' on a transformed parameter), write 'factor logpdf({call}(...), {name})'"
            f"{vector}.")  # fmt: skip

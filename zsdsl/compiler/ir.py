"""The typed DAG IR: frozen pydantic records with a ``kind`` tag; edges are names.

Every expression carries its ``Ty``: dtype, per-element shape (symbolic dims are
strings) and the plates it varies over. Nodes list their dependencies by name.
``dump_ir`` gives deterministic JSON (spans are excluded).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

Dim = Union[int, str]
Shape = tuple[Dim, ...]


class Rec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Ty(Rec):
    dtype: Literal["real", "int", "bool"]
    shape: Shape = ()
    plates: tuple[str, ...] = ()

    @property
    def rank(self) -> int:
        return len(self.shape)


# ---------------------------------------------------------------- expressions


class Const(Rec):
    kind: Literal["const"] = "const"
    value: float | int | bool
    ty: Ty


class Ref(Rec):
    """Reads a node; ``plates`` are the plates the node was declared in."""

    kind: Literal["ref"] = "ref"
    name: str
    role: Literal[
        "data",
        "dim",
        "param",
        "latent",
        "observed",
        "det",
        "plate_index",
        "weights",
        "scan_index",
        "carry",
        "scan_local",
        "fn_arg",
    ]
    decl_plates: tuple[str, ...] = ()
    ty: Ty


class PlateSlice(Rec):
    """``x[n]``: the leading element dims of ``base`` become the plate dims of ``plates``."""

    kind: Literal["plate_slice"] = "plate_slice"
    base: Expr
    plates: tuple[str, ...]
    ty: Ty


class IndexItem(Rec):
    mode: Literal["select", "gather", "slice", "full"]
    index: Expr | None = None  # select: Const, gather: int expression
    start: Expr | None = None
    stop: Expr | None = None


class Index(Rec):
    kind: Literal["index"] = "index"
    base: Expr
    items: tuple[IndexItem, ...]
    ty: Ty


class BinOp(Rec):
    kind: Literal["binop"] = "binop"
    op: str
    left: Expr
    right: Expr
    ty: Ty


class Neg(Rec):
    kind: Literal["neg"] = "neg"
    operand: Expr
    ty: Ty


class Call(Rec):
    """A builtin function; ``static`` holds compile-time integers (e.g. reduction ranks)."""

    kind: Literal["call"] = "call"
    func: str
    args: tuple[Expr, ...]
    static: tuple[tuple[str, int], ...] = ()
    ty: Ty


class NetCall(Rec):
    kind: Literal["net_call"] = "net_call"
    net: str
    arg: Expr
    bayesian: bool = False
    ty: Ty


class ListE(Rec):
    kind: Literal["list"] = "list"
    items: tuple[Expr, ...]
    ty: Ty


class Dist(Rec):
    """A distribution with keyword arguments; ``ty.shape`` is the batch shape of one element."""

    kind: Literal["dist"] = "dist"
    name: str
    args: tuple[tuple[str, Expr], ...]
    event_ranks: tuple[tuple[str, int], ...] = ()
    ty: Ty


class LogPdf(Rec):
    kind: Literal["logpdf"] = "logpdf"
    dist: Dist
    value: Expr
    sum_rank: int
    ty: Ty


class ScanStep(Rec):
    """One statement of a scan's body: ``local`` (a value of this step), ``carry`` (the carry's next value),
    ``output`` (a value of this step, stacked over the steps after the loop)."""

    role: Literal["local", "carry", "output"]
    name: str
    expr: Expr
    ty: Ty


class Scan(Rec):
    """A loop with carried state: for ``index`` in ``start`` to ``stop - 1``, run ``body`` with the carries'
    values from the step before (``init`` before the first). Its value is every carry's last value and every
    output stacked over the steps (a leading element dim); ``ScanOut`` reads one of them."""

    kind: Literal["scan"] = "scan"
    index: str
    start: Expr
    stop: Expr
    carries: tuple[tuple[str, Expr], ...]
    body: tuple[ScanStep, ...]
    bounds: tuple[tuple[str, str, str, str], ...] = ()  # (lowest index, highest, size, what) checked at run time
    ty: Ty


class ScanOut(Rec):
    """A carry's last value or an output's stacked values, from the scan computed by node ``scan``."""

    kind: Literal["scan_out"] = "scan_out"
    scan: str
    name: str
    ty: Ty


class Ode(Rec):
    """The solution of an ODE (``ode_rk45``) at the times ``ts``, [T, n]: ``rhs`` is the user function's
    body with its parameters ``params`` (time, state, then one per ``args``) read as ``Ref``s of role
    ``fn_arg``; ``ranks`` are those arguments' declared ranks (the dims before them are sample dims)."""

    kind: Literal["ode"] = "ode"
    solver: str
    func: str
    params: tuple[str, ...]
    rhs: Expr
    y0: Expr
    t0: Expr
    ts: Expr
    args: tuple[Expr, ...] = ()
    ranks: tuple[int, ...] = ()
    rtol: float
    atol: float
    max_steps: int
    line: int = 0
    ty: Ty


Expr = Annotated[
    Union[Const, Ref, PlateSlice, Index, BinOp, Neg, Call, NetCall, ListE, Dist, LogPdf, Scan, ScanOut, Ode],
    Field(discriminator="kind"),
]

# ---------------------------------------------------------------- supports and bijectors


class Support(Rec):
    kind: str  # real, positive, interval, lower, upper, simplex, ordered, ..., boolean, int_nonneg, set
    lower: Expr | None = None
    upper: Expr | None = None
    lower_open: bool = False
    upper_open: bool = False
    values: tuple[float | int, ...] | None = None


class Bijector(Rec):
    kind: str  # identity, positive, lower, upper, interval, simplex, ordered, positive_ordered, corr_cholesky, ...
    lower: Expr | None = None
    upper: Expr | None = None


# ---------------------------------------------------------------- nodes


class DataNode(Rec):
    kind: Literal["data"] = "data"
    name: str
    ty: Ty
    support: Support


class DimNode(Rec):
    """A size: a constant, a data scalar, a data field's axis, or given with the data under its name."""

    kind: Literal["dim"] = "dim"
    name: str
    value: int | None = None
    source: tuple[str, int] | None = None  # (data field, axis); axis -1 means the field is the size itself
    expr: str | None = None  # computed from other sizes (canonical form, e.g. "T-1")


class PlateNode(Rec):
    kind: Literal["plate"] = "plate"
    name: str
    size: Dim
    subsample: int | None = None
    parent: str | None = None


class ParamNode(Rec):
    kind: Literal["param"] = "param"
    name: str
    ty: Ty
    support: Support
    bijector: Bijector
    init: Expr | None = None


class NetNode(Rec):
    kind: Literal["net"] = "net"
    name: str
    ctor: str
    layers: tuple[tuple[str, tuple[tuple[str, int | float | str | tuple[Dim, ...]], ...]], ...]  # (ctor, settings)
    in_shape: Shape
    out_shape: Shape
    prior: Dist | None = None
    weight_shapes: tuple[tuple[str, Shape], ...] = ()


class SampleNode(Rec):
    kind: Literal["sample"] = "sample"
    name: str
    observed: bool
    dist: Dist
    ty: Ty  # value type: per-element shape, plates
    sum_rank: int  # element dims summed into one log-density term
    support: Support
    bijector: Bijector | None = None
    reparam: bool = True
    discrete: bool = False
    enumerate: bool = False
    deps: tuple[str, ...] = ()


class DetNode(Rec):
    kind: Literal["det"] = "det"
    name: str
    expr: Expr
    ty: Ty
    deps: tuple[str, ...] = ()
    data_only: bool = False  # transformed data: computed from data alone, not reported with the draws
    hidden: bool = False  # `h = expr, hidden`: an intermediate, not reported with the draws


class FactorNode(Rec):
    kind: Literal["factor"] = "factor"
    name: str
    expr: Expr
    ty: Ty
    deps: tuple[str, ...] = ()


Node = Annotated[Union[SampleNode, DetNode, FactorNode], Field(discriminator="kind")]


class GuideIR(Rec):
    kind: Literal["guide"] = "guide"
    name: str
    role: Literal["guide", "critic"] = "guide"  # a critic's nodes end in one FactorNode named "score"
    params: tuple[ParamNode, ...] = ()
    nets: tuple[NetNode, ...] = ()
    nodes: tuple[Node, ...] = ()


class ProgramIR(Rec):
    kind: Literal["program"] = "program"
    name: str
    data: tuple[DataNode, ...] = ()
    dims: tuple[DimNode, ...] = ()
    plates: tuple[PlateNode, ...] = ()
    params: tuple[ParamNode, ...] = ()
    nets: tuple[NetNode, ...] = ()
    nodes: tuple[Node, ...] = ()
    guides: tuple[GuideIR, ...] = ()
    critics: tuple[GuideIR, ...] = ()
    generated: tuple[Node, ...] = ()

    def plate(self, name: str) -> PlateNode:
        return next(p for p in self.plates if p.name == name)

    @property
    def latents(self) -> tuple[SampleNode, ...]:
        return tuple(n for n in self.nodes if isinstance(n, SampleNode) and not n.observed)


def dump_ir(program: ProgramIR) -> str:
    """Deterministic JSON (sorted keys, two-space indent)."""
    return json.dumps(program.model_dump(mode="json"), indent=2, sort_keys=True)


def walk(obj):
    """Every IR record in ``obj`` (a record or a tuple of them), depth first, ``obj`` first."""
    if isinstance(obj, BaseModel):
        yield obj
        for name in type(obj).model_fields:
            yield from walk(getattr(obj, name))
    elif isinstance(obj, tuple):
        for item in obj:
            yield from walk(item)


def expr_refs(expr) -> set[str]:
    """Names of the nodes an expression reads."""
    found: set[str] = set()
    _collect(expr, found)
    return found


LOOP_ROLES = ("plate_index", "scan_index", "carry", "scan_local", "fn_arg")  # bound by a plate, scan or ODE: not nodes
_SIZE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _collect(obj, found: set[str]) -> None:
    # direct recursion that stops at a Ref, not ``walk``: the checker calls this for every node,
    # and the generator costs about a tenth of the compile time
    if isinstance(obj, Ref):
        if obj.role == "dim":  # a size may be an expression of sizes (a slice bound T-1)
            found.update(_SIZE_NAME.findall(obj.name))
        elif obj.role not in LOOP_ROLES:
            found.add(obj.name)
        return
    if isinstance(obj, ScanOut):
        found.add(obj.scan)
        return
    if isinstance(obj, NetCall):
        found.add(obj.net)
    if isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            _collect(getattr(obj, name), found)
    elif isinstance(obj, tuple):
        for item in obj:
            _collect(item, found)


for _cls in (
    PlateSlice,
    IndexItem,
    Index,
    BinOp,
    Neg,
    Call,
    NetCall,
    ListE,
    Dist,
    LogPdf,
    ScanStep,
    Scan,
    Ode,
    Support,
    Bijector,
):
    _cls.model_rebuild()

"""The abstract syntax tree: frozen dataclasses, each with a ``span``.

Both front ends (``.zs`` text and ``.zs.yaml``) produce these nodes. ``dump_ast``
gives a deterministic, span-free JSON-able form for golden tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Union

from zsdsl.errors import NO_SPAN, Span

# ---------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Num:
    value: float | int
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class Name:
    id: str
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class BinOp:
    op: str  # + - * / @ % ** < <= > >= == !=
    left: Expr
    right: Expr
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class Neg:
    operand: Expr
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class Keyword:
    name: str
    value: Expr
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Expr, ...] = ()
    kwargs: tuple[Keyword, ...] = ()
    span: Span = field(default=NO_SPAN, compare=False)
    func_span: Span = field(default=NO_SPAN, compare=False)

    def kwarg(self, name: str) -> Keyword | None:
        return next((k for k in self.kwargs if k.name == name), None)


@dataclass(frozen=True)
class Slice:
    start: Expr | None
    stop: Expr | None
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class Index:
    value: Expr
    indices: tuple[Expr | Slice, ...]
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class ListExpr:
    items: tuple[Expr, ...]
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class Arrow:
    """``a -> b -> c``: layer sizes in a net constructor."""

    items: tuple[Expr, ...]
    span: Span = field(default=NO_SPAN, compare=False)


Expr = Union[Num, Name, BinOp, Neg, Call, Index, ListExpr, Arrow]

# ---------------------------------------------------------------- types and declarations


@dataclass(frozen=True)
class TypeSpec:
    """``base[shape] in <constraint>``; bounds are expressions, ``values`` a finite set."""

    base: str
    shape: tuple[Expr, ...] = ()
    lower: Expr | None = None
    upper: Expr | None = None
    lower_open: bool = False
    upper_open: bool = False
    values: tuple[Expr, ...] | None = None
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class DataDecl:
    name: str
    type: TypeSpec
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class DimDecl:
    name: str
    value: Expr | None
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class ParamDecl:
    name: str
    type: TypeSpec
    init: Expr | None = None
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class NetDecl:
    name: str
    value: Expr
    span: Span = field(default=NO_SPAN, compare=False)


# ---------------------------------------------------------------- statements


@dataclass(frozen=True)
class Target:
    name: str
    indices: tuple[str, ...] = ()
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class Option:
    name: str
    value: Expr | None
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class Sample:
    target: Target
    dist: Expr
    type: TypeSpec | None = None
    options: tuple[Option, ...] = ()
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class Assign:
    target: Target
    value: Expr
    type: TypeSpec | None = None
    span: Span = field(default=NO_SPAN, compare=False)
    options: tuple[Option, ...] = ()  # hidden: computed, not reported with the draws


@dataclass(frozen=True)
class Factor:
    value: Expr
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class Score:
    """``score expr`` in a critic: its real-valued output per element (a logit, or a WGAN critic value)."""

    value: Expr
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class Plate:
    var: str
    size: Expr
    options: tuple[Option, ...]
    body: tuple[Stmt, ...]
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class Carry:
    """``err = e0`` in a scan header: a value carried from step to step, ``e0`` before the first."""

    name: str
    init: Expr
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class Scan:
    """``scan t in range(a, b), c = init, ...:`` with its body; ``steps`` is the ``range(...)`` call or a size."""

    var: str
    steps: Expr
    carries: tuple[Carry, ...]
    body: tuple[Stmt, ...]
    span: Span = field(default=NO_SPAN, compare=False)


Stmt = Union[Sample, Assign, Factor, Score, Plate, Scan]


@dataclass(frozen=True)
class Param:
    """``x: real[K]``: a function's parameter."""

    name: str
    type: TypeSpec
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class Return:
    value: Expr
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class FunctionDef:
    """``def f(a: real, b: real[K]) -> real[K]:`` with local assignments and one final ``return``."""

    name: str
    params: tuple[Param, ...]
    returns: TypeSpec
    body: tuple[Assign, ...]
    result: Return | None
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class Guide:
    name: str
    nets: tuple[NetDecl, ...] = ()
    params: tuple[ParamDecl, ...] = ()
    body: tuple[Stmt, ...] = ()
    span: Span = field(default=NO_SPAN, compare=False)
    kind: str = "guide"  # "critic": a `critic NAME:` block (adversarial training), same parts


@dataclass(frozen=True)
class Program:
    name: str
    data: tuple[DataDecl, ...] = ()
    dims: tuple[DimDecl, ...] = ()
    params: tuple[ParamDecl, ...] = ()
    nets: tuple[NetDecl, ...] = ()
    body: tuple[Stmt, ...] = ()
    guides: tuple[Guide, ...] = ()
    generated: tuple[Stmt, ...] = ()
    functions: tuple[FunctionDef, ...] = ()
    file: str = field(default="<string>", compare=False)
    span: Span = field(default=NO_SPAN, compare=False)


def dump_ast(node):
    """A deterministic, span-free nested structure of plain Python values."""
    if isinstance(node, tuple):
        return [dump_ast(x) for x in node]
    if isinstance(node, float) and not math.isfinite(node):
        return "inf" if node > 0 else "-inf"
    if not hasattr(node, "__dataclass_fields__"):
        return node
    out = {"node": type(node).__name__}
    for f in fields(node):
        if f.name in ("span", "func_span", "file"):
            continue
        out[f.name] = dump_ast(getattr(node, f.name))
    return out

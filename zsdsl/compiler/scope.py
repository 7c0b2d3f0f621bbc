"""Symbols and scopes for the checker: what a name means and where it was declared."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from zsdsl.compiler.ir import Bijector, Shape, Support
from zsdsl.errors import NameError_, Span


@dataclass
class Sym:
    name: str
    role: str  # data, dim, param, latent, observed, det, net, plate_index, weights
    dtype: str = "real"
    shape: Shape = ()
    plates: tuple[str, ...] = ()
    span: Span = field(default_factory=Span)
    support: Support | None = None
    bijector: Bijector | None = None
    dim_value: int | str | None = None  # for dims and int data scalars used as sizes
    local: bool = False  # declared inside a plate without an index
    data_only: bool = False  # a deterministic node computed from data alone (Stan's transformed data)
    scan_index: str | None = None  # a scan's output: the index that reads this step's value (o[t])
    value: object = None  # in a function's body being inlined: the IR value of a parameter or local


class Cascade(NameError_):
    """A use of a name whose own statement failed to check: not reported (the first error is)."""


class Scope:
    """A flat namespace with a parent; lookups fall through to the parent."""

    def __init__(self, parent: Scope | None = None, later: dict[str, Span] | None = None):
        self.parent = parent
        self.syms: dict[str, Sym] = {}
        self.later = later or {}  # names declared further down the file, for "used before defined"
        self.ended: dict[str, str] = {}  # plate-local names whose plate has closed -> that plate
        self.failed: set[str] = parent.failed if parent is not None else set()  # names whose statement failed

    @classmethod
    def for_block(cls, outer: Scope) -> Scope:
        """The fresh scope of a guide or critic block: the data, sizes and plate indices of ``outer``."""
        scope = cls(parent=None, later={})
        for name, sym in outer.syms.items():
            if sym.role in ("data", "dim", "plate_index"):
                scope.syms[name] = sym
        return scope

    def lookup(self, name: str) -> Sym | None:
        scope = self
        while scope is not None:
            if name in scope.syms:
                return scope.syms[name]
            scope = scope.parent
        return None

    def all_names(self) -> list[str]:
        names, scope = set(), self
        while scope is not None:
            names |= set(scope.syms)
            scope = scope.parent
        return sorted(names)

    def define(self, sym: Sym) -> None:
        prev = self.lookup(sym.name)
        if prev is not None:
            where = f" at line {prev.span.line}" if prev.span.line else ""
            raise NameError_(f"'{sym.name}' is already defined{where}.", sym.span)
        self.syms[sym.name] = sym

    def undefined(self, name: str, span: Span, extra: list[str] = ()) -> NameError_:
        if name in self.failed:
            return Cascade(f"'{name}' is not defined: its statement has an error.", span)
        if name in self.ended:
            plate = self.ended[name]
            return NameError_(f"'{name}' is local to plate '{plate}' and cannot be used outside it.", span)
        if name in self.later:
            return NameError_(f"'{name}' is used before it is defined (line {self.later[name].line}).", span)
        return NameError_(f"Undefined name '{name}'.{did_you_mean(name, [*self.all_names(), *extra])}", span)


def did_you_mean(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""

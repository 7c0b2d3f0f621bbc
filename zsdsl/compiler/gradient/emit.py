"""Primitive form → Python source of ``make(data, d)``, which returns ``value_and_grad(z)``.

``make`` computes everything that depends on data alone once per data set (the data-only values,
sizes, the layout of the gradient). ``value_and_grad`` is straight-line code: the forward pass,
then the adjoints in reverse order, one rule per primitive (``rules``). Scalars are Python floats
computed with ``math`` in the fast variant; where that raises (an overflow, a log of 0), the same
code with NumPy scalars under ``np.errstate`` gives the IEEE result (inf, nan), so such a point is
a divergence for the sampler rather than an error. Adjoints of broadcast values stay as small as
they are (a scalar adjoint is not expanded) until a rule needs the full shape.
"""

from __future__ import annotations

import inspect
import re

from zsdsl.compiler.gradient import emit_kernel, emit_scan, helpers, rules
from zsdsl.compiler.gradient.graph import Op, Unsupported, Val, broadcast

HELPERS = {
    "logsumexp": (helpers.logsumexp,),
    "cholesky": (helpers.cholesky_lower,),
}  # functions copied into the module
_NAME = re.compile(r"\b(g_)?([vc]\d+)\b")
_BARE = re.compile(r"^(g_[vc]\d+|-?\d+\.\d+)$")


class _Reverse:
    """Adjoint accumulators of one variant. ``acc[value] = [code, shape, owned]``: the code reads the
    adjoint (its variable, or another adjoint or literal it aliases), shape its symbolic shape (it may
    be smaller than the value's: broadcast), owned whether it is an array only this accumulator holds."""

    def __init__(self, vals: dict, lines: list):
        self.vals, self.lines = vals, lines
        self.acc: dict[str, list] = {}

    def code(self, name: str) -> str:
        return self.acc[name][0]

    def shape_of(self, code: str) -> tuple:
        shape: tuple = ()
        for m in _NAME.finditer(code):
            name = m.group(2)
            if m.group(1):
                shape = broadcast(shape, self.acc[name][1])
            elif name in self.vals:
                shape = broadcast(shape, self.vals[name].shape)
        return shape

    def add(self, arg: Val, code: str, cshape: tuple) -> None:
        code, cshape = _unbroadcast(code, cshape, arg.shape)
        name = f"g_{arg.name}"
        if arg.name not in self.acc:
            if _BARE.match(code):
                self.acc[arg.name] = [code, cshape, False]  # an alias: no line
                return
            self.lines.append(f"{name} = {code}")
            # not owned: the code may be a data array, a view of another adjoint or an alias, so a later
            # scatter copies first (a sum ``prev + c`` below is a new array, and owned)
            self.acc[arg.name] = [name, cshape, False]
        else:
            prev, pshape, _ = self.acc[arg.name]
            if _negated_term(code):  # prev - t rather than prev + -t: one array operation fewer
                self.lines.append(f"{name} = {prev} - {code[1:]}")
            else:
                self.lines.append(f"{name} = {prev} + {code}")
            self.acc[arg.name] = [name, broadcast(pshape, cshape), bool(broadcast(pshape, cshape))]

    def scatter(self, arg: Val, index: str, code: str) -> None:
        name = f"g_{arg.name}"
        if arg.name not in self.acc:
            self.lines.append(f"{name} = np.zeros_like({arg.name})")
        else:
            prev, pshape, owned = self.acc[arg.name]
            if not owned or pshape != arg.shape or prev != name:
                self.lines.append(f"{name} = {prev} + np.zeros_like({arg.name})")
        self.lines.append(f"{name}[{index}] += {code}")
        self.acc[arg.name] = [name, arg.shape, True]

    def exact(self, val: Val) -> str:
        """The adjoint of ``val`` at its full shape."""
        code, shape, _ = self.acc[val.name]
        if shape == val.shape:
            return code
        name = f"g_{val.name}"
        self.lines.append(f"{name} = np.broadcast_to({code}, np.shape({val.name}))")
        self.acc[val.name] = [name, val.shape, False]
        return name


def _negated_term(code: str) -> bool:
    """``code`` is ``-T`` for one term T (no + or - outside brackets after the sign)."""
    if not code.startswith("-") or code.startswith("--"):
        return False
    depth = 0
    for i, ch in enumerate(code[1:], 1):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch in "+-" and depth == 0 and code[i - 1] == " ":
            return False
    return True


def _broadcast_into(a: tuple, out: tuple) -> bool:
    """An argument of shape ``a`` was broadcast to the (larger) output shape ``out``."""
    try:
        return tuple(a) != tuple(out) and broadcast(a, out) == tuple(out)
    except Unsupported:
        return False


def _unbroadcast(code: str, cs: tuple, ts: tuple) -> tuple[str, tuple]:
    """Sum a contribution of shape ``cs`` down to something broadcastable to the argument's ``ts``."""
    lead = len(cs) - len(ts)
    if lead <= 0 and all(c == 1 or c == t for c, t in zip(cs, ts[len(ts) - len(cs) :])):
        return code, cs
    if not ts:
        return f"add_reduce({code}, None)", ()
    axes = list(range(lead))
    keep = [lead + i for i, t in enumerate(ts) if t == 1 and cs[lead + i] != 1]
    if axes:
        code = f"add_reduce({code}, {tuple(axes)!r})"
    if keep:
        code = f"add_reduce({code}, {tuple(k - lead for k in keep)!r}, keepdims=True)"
    return code, tuple(1 if t == 1 else c for c, t in zip(cs[lead:], ts))


def forward_ops(ops: list[Op], lines: list[str], fast: bool) -> None:
    """The forward pass: one line per operation (a scan's loop takes several)."""
    for op in ops:
        if op.prim == "scan":
            lines.extend(emit_scan.forward(op, fast, forward_ops))
            continue
        args = [a.name for a in op.args]
        lines.append(f"{op.out.name} = {rules.forward(op, args, fast and op.out.scalar)}")


def reverse_ops(ops: list[Op], back: _Reverse, lines: list[str], fast: bool) -> None:
    """The adjoints, operation by operation in reverse order, from those already in ``back``."""
    done_setup: set = set()  # temporaries an op's rules share (computed once for all its arguments)
    for op in reversed(ops):
        if op.prim == "scan":
            emit_scan.reverse(op, back, fast, reverse_ops)
            continue
        if op.out.name not in back.acc or op.prim == "scan_get":  # a scan's reads: the scan takes their adjoints
            continue
        out = op.out
        for i, arg in enumerate(op.args):
            if arg.data:
                continue
            f = fast and out.scalar
            probe = rules.adjoint(op, i, "G", out.name, [a.name for a in op.args], f)
            if probe is None:
                continue
            g = back.exact(out) if probe.exact_g else back.code(out.name)
            adj = rules.adjoint(op, i, g, out.name, [a.name for a in op.args], f)
            small = not probe.exact_g and adj.scatter is None and _broadcast_into(arg.shape, out.shape)
            if small and broadcast(back.shape_of(adj.code), arg.shape) != out.shape:
                # an argument broadcast here takes the sum of g over the axes it was broadcast along: a g kept
                # small (a scalar standing for every element) must first be as large as the output
                adj = rules.adjoint(op, i, back.exact(out), out.name, [a.name for a in op.args], f)
            lines.extend(x for x in adj.setup if x not in done_setup)
            done_setup.update(adj.setup)
            if adj.scatter is not None:
                back.scatter(arg, adj.scatter, adj.code)
            elif adj.exact_g:
                back.add(arg, adj.code, adj.shape if adj.shape is not None else arg.shape)
            else:
                back.add(arg, adj.code, back.shape_of(adj.code))


def _variant(ops: list[Op], sites: list, total: Val, fast: bool, dim_code: str, vals: dict) -> list[str]:
    lines: list[str] = []
    if fast and any(v.scalar for _, v, _ in sites):
        lines.append("zs = z.tolist()")
    for _name, v, offset in sites:
        if v.scalar:
            lines.append(f"{v.name} = {'zs' if fast else 'z'}[{offset}]")
        else:
            reshape = f".reshape({v.name}_shape)" if len(v.shape) > 1 else ""
            lines.append(f"{v.name} = z[{v.name}_lo:{v.name}_hi]{reshape}")
    forward_ops(ops, lines, fast)
    back = _Reverse(vals, lines)
    if total.data:
        lines.append(f"return -{total.name}, np.zeros({dim_code})")
        return lines
    back.acc[total.name] = ["1.0", (), False]
    reverse_ops(ops, back, lines, fast)
    lines.append(f"gr = np.empty({dim_code})")
    for _name, v, offset in sites:
        if v.name not in back.acc:
            target = f"gr[{offset}]" if v.scalar else f"gr[{v.name}_lo:{v.name}_hi]"
            lines.append(f"{target} = 0.0")
        elif v.scalar:
            lines.append(f"gr[{offset}] = -{back.code(v.name)}")
        else:
            code, shape, _ = back.acc[v.name]
            g = code if shape == v.shape else f"np.broadcast_to({code}, {v.name}_shape)"
            lines.append(f"gr[{v.name}_lo:{v.name}_hi] = -{g if len(v.shape) == 1 else f'np.ravel({g})'}")
    lines.append(f"return -{total.name}, gr")
    return lines


def _with_scan_steps(ops: list[Op]) -> list[Op]:
    out = []
    for op in ops:
        out.append(op)
        if op.prim == "scan":
            out += _with_scan_steps(op.spec.ops)
    return out


def emit_source(header: str, data_lines: list[str], data_ops: list[Op], z_ops: list[Op], sites: list, total: Val,
                dim_code: str, layout: str, kernel_header: str = "") -> tuple[str, str | None, str]:  # fmt: skip
    """``(module, kernel, reason)``: the module text, the numba kernel's module text (``emit_kernel``) or None
    and the reason. ``sites``: (name, z value, offset code); ``data_lines`` bind fields and sizes."""
    vals = {op.out.name: op.out for op in data_ops + z_ops}
    vals.update({v.name: v for _, v, _ in sites})
    every = _with_scan_steps(data_ops + z_ops)  # the operations of scans' steps need their imports too
    imports = ["import numpy as np", "from scipy import special as sp"]
    if any(op.prim == "recurrence" for op in every):
        imports.append("from scipy import signal as sig")
    if any(op.prim == "trisolve" for op in every):
        imports.append("from scipy import linalg as sla")
    if any(op.prim == "cholesky" for op in every):
        imports.append("from scipy.linalg.lapack import dpotrf, dtrtri")
    helpers = [inspect.getsource(h) for prim, fns in HELPERS.items() if any(op.prim == prim for op in every)
               for h in fns]  # fmt: skip
    helpers += list(dict.fromkeys(op.attrs[-1] for op in every if op.prim == "ode"))  # sensitivity systems
    if any(op.prim in ("ode", "hmm_marginal") for op in every):  # compiled kernels of zsdsl.runtime.lib
        imports.append("from zsdsl.runtime import lib as zl")
    if helpers:
        layout += "\n\n\n" + "\n\n".join(h.rstrip("\n") + "\n" for h in helpers)
    out = [header, "", "import math", "", *imports, "", layout,
           "add_reduce = np.add.reduce  # a sum without ndarray.sum's Python wrapper", "", ""]  # fmt: skip
    out.append("def make(data, d):")
    out.append('    """Data-only values, once per data set; returns value_and_grad(z) -> (U, dU/dz), U = -log p."""')
    body = list(data_lines)
    for op in data_ops:
        body.append(f"{op.out.name} = {rules.forward(op, [a.name for a in op.args], False)}")
    has_fast = any(op.out.scalar for op in z_ops) or any(v.scalar for _, v, _ in sites)
    out += ["    " + line for line in body]
    out.append("")
    safe_lines = _variant(z_ops, sites, total, False, dim_code, vals)
    kernel, kernel_reason, kernel_args = emit_kernel.kernel_module(kernel_header, body, safe_lines,
                                                                   {op.prim for op in every})  # fmt: skip
    variants = [("fast", True), ("safe", False)] if has_fast else [("safe", False)]
    for name, fast in variants:
        out.append(f"    def {name}(z):")
        lines = _variant(z_ops, sites, total, fast, dim_code, vals) if fast else safe_lines
        if not fast:
            out.append("        with np.errstate(all='ignore'):")
            out += ["            " + line for line in lines]
        else:
            out += ["        " + line for line in lines]
        out.append("")
    linalg = any(op.prim in ("cholesky", "trisolve") for op in z_ops)
    args = "None" if kernel is None else emit_scan.tup(kernel_args)
    out += ["    # the values numba's kernel takes after z (the kernel: zsdsl compile --emit kernel)",
            f"    kernel_args = {args}", ""]  # fmt: skip
    ret = f"{dim_code}, kernel_args"
    reject = [
        "        except np.linalg.LinAlgError:  # not positive definite here: Stan rejects the point",
        f"            return math.inf, np.zeros({dim_code})",
    ]  # fmt: skip
    if has_fast:
        out += ["    def value_and_grad(z):", "        try:", "            return fast(z)"]
        out += reject if linalg else []
        out += [
            "        except (ArithmeticError, ValueError):  # math left the reals here: IEEE values from NumPy",
            "            return safe(z)" if not linalg else "            pass",
        ]
        if linalg:
            out += ["        try:", "            return safe(z)", *reject]
        out += ["", f"    return value_and_grad, {ret}"]
    elif linalg:
        out += ["    def value_and_grad(z):", "        try:", "            return safe(z)", *reject, "",
                f"    return value_and_grad, {ret}"]  # fmt: skip
    else:
        out.append(f"    return safe, {ret}")
    return "\n".join(out) + "\n", kernel, kernel_reason


__all__ = ["emit_source", "Unsupported"]

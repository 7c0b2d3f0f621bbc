"""The emitted gradient's ``safe`` variant as one module-level function for numba: ``kernel(z, *args)``.

The gradient module's ``value_and_grad`` is NumPy called from Python: on a small model most of its cost
is the interpreter between array operations (a few µs each), not the maths. ``kernel`` is the same lines
as the ``safe`` variant, with the data-only values of ``make`` as parameters instead of closure cells, in
a module of its own that imports numba's versions of the helpers and of NumPy's functions where numba
lacks a form (``zsdsl.runtime.lib.jitlib``, ``jitnp``) instead of SciPy's and NumPy's. The runtime
compiles it with ``numba.njit`` (``zsdsl.runtime.lib.kernel_cache``) and ``EmittedPotential`` checks it
against autograd before sampling with it. ``make`` returns the argument tuple beside the NumPy
function. The text is deterministic and golden-tested as the gradient module is; a model whose code
calls what numba cannot run (a scan's Python loop of closures, an ODE or HMM kernel of its own, SciPy's
IIR filter) gets no kernel and the reason.
"""

from __future__ import annotations

import re

_ASSIGN = re.compile(r"^([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*=(?!=)")
_WORD = re.compile(r"\b[A-Za-z_]\w*\b")
NOT_IN_KERNEL = {  # primitive -> why the kernel does not take it (the NumPy path stays)
    "scan": "a scan (its steps are Python closures over lists)",
    "ode": "an ODE solution (solved by its own compiled kernel)",
    "hmm_marginal": "hmm_marginal (computed by its own compiled kernel)",
    "recurrence": "recurrence (SciPy's IIR filter)",
}
IMPORTS = (
    "import math",
    "",
    "from zsdsl.runtime.lib.jitlib import cholesky_lower, dtrtri, sla, sp",
    "from zsdsl.runtime.lib.jitnp import add_reduce, logsumexp, np",
)


def assigned(lines: list[str]) -> list[str]:
    """The names the statements ``lines`` assign at their top level, in order, each once."""
    names: list[str] = []
    for line in lines:
        m = _ASSIGN.match(line)
        if m:
            names += [n.strip() for n in m.group(1).split(",") if n.strip() not in names]
    return names


def kernel_module(
    header: str, make_lines: list[str], safe_lines: list[str], prims: set
) -> tuple[str | None, str, list]:
    """``(text, reason, args)``: the kernel module, or None and why not; ``args`` are the names of ``make``'s
    values the kernel takes, in its parameter order."""
    blocked = sorted(NOT_IN_KERNEL[p] for p in prims & NOT_IN_KERNEL.keys())
    if blocked:
        return None, f"the model has {', '.join(blocked)}", []
    body = "\n".join(safe_lines)
    if re.search(r"\b(data|d)\[", body):
        return None, "the gradient reads the data dictionary directly", []
    used = set(_WORD.findall(body))
    args = [n for n in assigned(make_lines) if n in used]
    lines = [header, "", *IMPORTS, "", "", f"def kernel({', '.join(['z', *args])}):"]
    lines += ["    " + line for line in safe_lines]
    return "\n".join(lines) + "\n", "", args

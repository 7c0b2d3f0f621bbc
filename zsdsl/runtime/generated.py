"""Loading code the compiler emitted (the PyTorch model module, the NumPy gradient module) as modules.

The source is registered in ``linecache`` under a fake file name ``<zsdsl:LABEL#k>``, so tracebacks and
profilers show the generated lines.
"""

from __future__ import annotations

import itertools
import linecache
import sys
import types

_counter = itertools.count(1)


def load_generated_module(source: str, label: str) -> types.ModuleType:
    """Execute generated source as a module; its file name is ``<zsdsl:LABEL#k>``."""
    filename = f"<zsdsl:{label}#{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    module = types.ModuleType(f"zsdsl_generated_{abs(hash(filename))}")
    module.__file__ = filename
    sys.modules[module.__name__] = module  # importable by name (torch.compile looks modules up)
    code = compile(source, filename, "exec")  # safe: source emitted by zsdsl.compiler from checked IR
    exec(code, module.__dict__)  # safe: same generated code, never user text
    return module

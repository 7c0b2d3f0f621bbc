"""Compiling an emitted numba kernel (``zsdsl.compiler.gradient.emit_kernel``), cached on disk.

``compile_module(text, names)`` writes the module to the cache directory under a name that is a hash
of its text, numba's version and the helper libraries' source (``jitlib``, ``jitnp``: numba's cache does
not see a change in a function a kernel calls, the name does), imports it from there and puts
``numba.njit(cache=True)`` of its functions ``names`` in their place: numba keeps the machine code beside
the file, so a model compiles once per machine, not once per run. The directory is ``$ZSDSL_CACHE_DIR``, else
``$XDG_CACHE_HOME/zsdsl``, else ``~/.cache/zsdsl`` (a temporary one where none is writable: compiled
every run). A file found there with other text than its name promises is rewritten before use, never run.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import inspect
import os
import sys
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    base = os.environ.get("ZSDSL_CACHE_DIR")
    if base:
        return Path(base) / "kernels"
    xdg = os.environ.get("XDG_CACHE_HOME")
    root = Path(xdg) if xdg else Path.home() / ".cache"
    return root / "zsdsl" / "kernels"


@functools.cache
def _writable_dir() -> Path:
    path = cache_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
        return path
    except OSError:
        return Path(tempfile.mkdtemp(prefix="zsdsl-kernels-"))


@functools.cache
def _salt() -> str:
    import numba

    from zsdsl.runtime.lib import jitlib, jitnp

    return f"{numba.__version__}\n{inspect.getsource(jitlib)}\n{inspect.getsource(jitnp)}"


def kernel_path(text: str) -> Path:
    key = hashlib.sha256((_salt() + "\n" + text).encode()).hexdigest()[:24]
    return _writable_dir() / f"zsdsl_kernel_{key}.py"


def _write(path: Path, text: str) -> None:
    if path.exists() and path.read_text() == text:
        return
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)  # atomic: a process reading it concurrently sees the old file or the new one


def compile_module(text: str, names: tuple[str, ...]):
    """The module of ``text`` with its functions ``names`` replaced by numba dispatchers (each compiled
    lazily, at its first call; they call each other as globals of the module, as numba needs)."""
    import numba

    path = kernel_path(text)
    _write(path, text)
    name = path.stem
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # safe: text emitted by zsdsl.compiler from checked IR, checked above
        for fn in names:
            setattr(module, fn, numba.njit(cache=True, nogil=True, error_model="numpy")(getattr(module, fn)))
        sys.modules[name] = module
    return module

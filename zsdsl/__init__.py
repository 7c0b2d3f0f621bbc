"""zsdsl: a declarative probabilistic-model compiler for Bayesian deep learning on PyTorch.

``zsdsl.load(path)`` compiles a model file (``.zs`` or ``.zs.yaml``) into a
``CompiledModel``; ``zsdsl.compile_text`` compiles text. Heavy imports (torch) happen
only when a model is loaded, so ``zsdsl check`` stays fast.
"""

from __future__ import annotations

from zsdsl.version import __version__


def compile_text(text: str, file: str = "<string>"):
    """Parse, check and emit; returns ``zsdsl.compiler.pipeline.Compiled`` (ast, ir, source)."""
    from zsdsl.compiler.pipeline import compile_text as _compile

    return _compile(text, file)


def load(path):
    """Compile a model file and load the generated PyTorch module as a ``CompiledModel``."""
    from zsdsl.compiler.pipeline import compile_file
    from zsdsl.runtime.compiled import CompiledModel

    compiled = compile_file(path)
    return CompiledModel(
        compiled.source, compiled.file, compiled.ir, compiled.text, compiled.warnings, compiled.gradient
    )


def loads(text: str, file: str = "<string>"):
    """Like ``load`` for model text."""
    from zsdsl.runtime.compiled import CompiledModel

    compiled = compile_text(text, file)
    return CompiledModel(
        compiled.source, compiled.file, compiled.ir, compiled.text, compiled.warnings, compiled.gradient
    )


__all__ = ["__version__", "compile_text", "load", "loads"]

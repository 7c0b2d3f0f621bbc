"""The compiler driver: parse → check (to IR) → passes → verify → emit (PyTorch; NumPy gradient).

``compile_text`` is the one function that sequences the stages; every
intermediate form is kept on the result so the CLI can print it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zsdsl.compiler import ir
from zsdsl.compiler.check import check_program
from zsdsl.compiler.emit import emit_module
from zsdsl.compiler.gradient import GradientProgram, emit_gradient
from zsdsl.compiler.passes import run_passes
from zsdsl.compiler.verify import verify_ir
from zsdsl.errors import FileError
from zsdsl.grammar import ast as A
from zsdsl.grammar.parser import parse_spec


@dataclass(frozen=True)
class Compiled:
    file: str
    text: str
    ast: A.Program
    ir: ir.ProgramIR
    source: str
    warnings: tuple = ()  # SpecWarnings: legal but likely wrong, shown at their spans
    gradient: GradientProgram | None = None  # NUTS's value-and-gradient code, or why the model has none


def parse_file_text(text: str, file: str) -> A.Program:
    """Pick the front end by file name: ``*.yaml``/``*.yml`` use the YAML form."""
    if file.endswith((".yaml", ".yml")):
        from zsdsl.grammar.yaml_frontend import parse_yaml_spec

        return parse_yaml_spec(text, file)
    return parse_spec(text, file)


def compile_text(text: str, file: str = "<string>") -> Compiled:
    """Compile model text; raises ``ZsdslError`` (user errors) or ``InternalError``."""
    program = parse_file_text(text, file)
    warnings: list = []
    checked = check_program(program, warnings)
    verify_ir(checked)
    optimized = run_passes(checked, verify=verify_ir)
    source = emit_module(optimized, Path(file).name)
    gradient = emit_gradient(optimized, file, program)
    return Compiled(file=file, text=text, ast=program, ir=optimized, source=source, warnings=tuple(warnings),
                    gradient=gradient)  # fmt: skip


def read_spec(path: str | Path) -> str:
    p = Path(path)
    if not p.exists():
        raise FileError(f"No such model file: {p}")
    if p.is_dir():
        raise FileError(f"{p} is a directory, not a model file.")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise FileError(f"{p} is not a UTF-8 text file.") from None


def compile_file(path: str | Path) -> Compiled:
    return compile_text(read_spec(path), str(path))

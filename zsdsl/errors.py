"""Source spans and the closed hierarchy of user-facing errors, rendered in one place.

A user error carries a ``Span`` and a message; ``render_error`` prints
``file:line:col``, the numbered source line(s) with a caret under the span and
the message. ``InternalError`` is separate: it means a bug in zsdsl.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Span:
    """A region of a source file; lines and columns are 1-based, end is inclusive-exclusive."""

    line: int = 0
    col: int = 0
    end_line: int = 0
    end_col: int = 0
    file: str = field(default="<string>", compare=False)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


NO_SPAN = Span()

DEBUG_ENV = "ZSDSL_DEBUG"  # set to 1: internal errors show their traceback
EXIT_USER, EXIT_INTERNAL = 1, 3


class ZsdslError(Exception):
    """Base of every error a user can cause; never shown with a traceback."""

    kind = "error"

    def __init__(self, message: str, span: Span = NO_SPAN, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint

    def sort_key(self):
        return (self.span.file, self.span.line, self.span.col, self.message)


class SyntaxError_(ZsdslError):
    kind = "syntax error"


class NameError_(ZsdslError):
    kind = "name error"


class TypeError_(ZsdslError):
    kind = "type error"


class ShapeError(ZsdslError):
    kind = "shape error"


class DistributionError(ZsdslError):
    kind = "distribution error"


class SupportError(ZsdslError):
    kind = "support error"


class DataError(ZsdslError):
    kind = "data error"


class UsageError(ZsdslError):
    """Base of the errors of using zsdsl (not of the model text); raise one of its kinds below."""

    kind = "usage error"


class OptionError(UsageError):
    """An option (or a keyword of the Python API) that is unknown, out of range or does not apply."""

    kind = "option error"


class RunDirError(UsageError):
    """A run directory that is not what the command needs: missing, of another kind, another run's."""

    kind = "run directory error"


class FileError(UsageError):
    """A model or output file that cannot be read or written."""

    kind = "file error"


class ModelError(UsageError):
    """A model that the chosen engine cannot handle (a discrete latent for NUTS, nothing to fit)."""

    kind = "model error"


class NumericalError(UsageError):
    """A log density or objective that became non-finite for a reason not traced to a site."""

    kind = "numerical error"


class DistributedError(UsageError):
    """A data-parallel run that cannot start or whose process ended: which one and what is kept."""

    kind = "distributed run error"


class SpecWarning(ZsdslError):
    """Not an error: something in a model file that is legal but likely wrong; rendered at its span."""

    kind = "warning"


class ErrorGroup(ZsdslError):
    """All errors of one stage, sorted by position."""

    def __init__(self, errors: list[ZsdslError]):
        self.errors = sorted(errors, key=lambda e: e.sort_key())
        first = self.errors[0]
        super().__init__(first.message, first.span)
        self.kind = first.kind


class InternalError(Exception):
    """A bug in zsdsl, not in the user's model."""

    def __str__(self) -> str:
        return (
            f"internal error: {self.args[0]}\nThis is a bug in zsdsl; please report it with the model file "
            f"(set {DEBUG_ENV}=1 for a traceback)."
        )


def flatten_errors(err: ZsdslError) -> list[ZsdslError]:
    return list(err.errors) if isinstance(err, ErrorGroup) else [err]


def render_error(err: ZsdslError, source: str | None = None) -> str:
    """Render one error (or a group) as text: location, source excerpt with caret, message."""
    return "\n\n".join(_render_one(e, source) for e in flatten_errors(err))


def _render_one(err: ZsdslError, source: str | None) -> str:
    span = err.span
    lines = []
    if span.line:
        lines.append(f"{span.file}:{span.line}:{span.col}: {err.kind}")
        lines.extend(_excerpt(span, source))
    else:
        where = f"{span.file}: " if span.file != "<string>" else ""
        lines.append(f"{where}{err.kind}: {err.message}")  # one line: where, what kind, the cause
        if err.hint:
            lines.append(err.hint)
        return "\n".join(lines)
    lines.append(err.message)
    if err.hint:
        lines.append(err.hint)
    return "\n".join(lines)


def _excerpt(span: Span, source: str | None) -> list[str]:
    if source is None:
        return []
    src_lines = source.splitlines()
    if not 1 <= span.line <= len(src_lines):
        return []
    end_line = span.end_line - 1 if span.end_line > span.line and span.end_col <= 1 else span.end_line
    # a statement's span ends at the start of the next line (its newline): that line is not part of it
    last = min(max(end_line, span.line), len(src_lines), span.line + 2)
    width = len(str(last))
    out = []
    for n in range(span.line, last + 1):
        out.append(f"  {n:>{width}} | {src_lines[n - 1]}")
    text = src_lines[span.line - 1]
    start = span.col - 1
    stop = span.end_col - 1 if span.end_line == span.line and span.end_col > span.col else len(text.rstrip())
    stop = max(stop, start + 1)
    out.append(f"  {' ' * width} | {' ' * start}{'^' * (stop - start)}")
    return out

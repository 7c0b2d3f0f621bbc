"""The ``zsdsl`` command group and the error contract every command runs under.

Every user error exits 1 with a heading that says its kind (syntax, type, shape, data, option,
run directory, ...): ``file:line:col`` with a caret for errors in a model file, one line
otherwise. An internal error says it is a bug and exits 3; no traceback is printed unless
``ZSDSL_DEBUG=1`` is set.
"""

from __future__ import annotations

import functools
import os
import sys

import click

from zsdsl.errors import DEBUG_ENV, EXIT_INTERNAL, EXIT_USER, InternalError, ZsdslError, render_error


def _source_of(err: ZsdslError) -> str | None:
    file = err.span.file
    if file and not file.startswith("<") and os.path.isfile(file):
        try:
            with open(file, encoding="utf-8") as fh:
                return fh.read()
        except (OSError, UnicodeDecodeError):
            return None
    return None


def handle_errors(fn):
    """Turn exceptions into messages and exit codes (1: user error, 3: internal error)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ZsdslError as err:
            click.echo(render_error(err, _source_of(err)), err=True)
            sys.exit(EXIT_USER)
        except InternalError as err:
            if os.environ.get(DEBUG_ENV):
                raise
            click.echo(str(err), err=True)
            sys.exit(EXIT_INTERNAL)
        except BrokenPipeError:  # output piped into `head` and the like: stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_USER)
        except KeyboardInterrupt:
            ctx = click.get_current_context(silent=True)
            hint = ctx.meta.get("zsdsl_interrupt_hint") if ctx is not None else None
            click.echo(hint() if hint else "interrupted", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as err:  # a bug: say so, without a traceback unless asked for
            if os.environ.get(DEBUG_ENV):
                raise
            click.echo(str(InternalError(f"{type(err).__name__}: {err}")), err=True)
            sys.exit(EXIT_INTERNAL)

    return wrapper


def _quiet_third_party_warnings() -> None:
    """Warnings meant for library authors stay out of the CLI's output (``ZSDSL_DEBUG=1`` shows them):
    ArviZ's and xarray's FutureWarnings, and NumPy's overflow warnings inside the NumPy potential, where a
    trajectory that leaves the typical set (a divergence, reported as such) overflows by design."""
    import warnings

    if os.environ.get(DEBUG_ENV):
        return
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"zsdsl\.runtime\.lib\..*")
    warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"numpy\..*")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="zsdsl")
def main():
    """zsdsl: write a probabilistic model once, as a file; check it, compile it to PyTorch, fit it."""
    _quiet_third_party_warnings()

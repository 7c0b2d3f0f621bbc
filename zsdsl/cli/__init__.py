"""The ``zsdsl`` command line: a thin layer over the public API (``zsdsl.load`` and ``CompiledModel``).

Commands live in their modules (``inspect_cmds``, ``fit_cmds``, ``sample_cmds``, ``workflow_cmds``); run directories,
resume rules and option checks live in the runtime, not here.
"""

from zsdsl.cli import fit_cmds, inspect_cmds, sample_cmds, workflow_cmds  # noqa: F401 - registers the commands
from zsdsl.cli.app import handle_errors, main

__all__ = ["handle_errors", "main"]

"""The ``rlmeta`` command line (Typer).

Each sub-command lives in its own module and registers itself on :data:`app`; the
commands are thin wrappers over library functions.  Exit codes are in
:class:`~rlmeta.cli._common.Exit`.
"""

from __future__ import annotations

# Importing the command modules registers their commands on ``app``.
from . import commands as _commands  # noqa: F401
from ._common import app

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover - thin entry point
    """Console-script entry point."""
    app()

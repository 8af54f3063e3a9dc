"""Shared pieces of the CLI: the Typer app, exit codes, error handling, output."""

from __future__ import annotations

import functools
import sys
from enum import IntEnum

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["app", "Exit", "console", "err_console", "handle_errors"]

app = typer.Typer(
    name="rlmeta",
    help="Statistics of RL-trained LLM vs. baseline evidence: read, pool, check, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(highlight=False)


@app.callback()
def _root() -> None:
    """Statistics of RL-trained LLM vs. baseline evidence: read, pool, check, report."""


err_console = Console(stderr=True, highlight=False)


class Exit(IntEnum):
    """Exit codes scripts can rely on."""

    OK = 0
    FAILURE = 1  # unexpected internal error
    USAGE = 2  # bad command-line usage (Typer/Click's own code)
    DATA = 3  # bad input data (file, row, column named in the message)
    MODEL = 4  # the model cannot be fitted as asked
    CONFIG = 5  # bad configuration file
    VALIDATION = 6  # `rlmeta validate` found problems
    NOT_CONVERGED = 7  # the model was fitted but an estimator did not converge (output flagged)


def handle_errors(func):
    """Turn rlmeta's exceptions into a one-line message and a documented exit code.

    Messages quote file content, so they are escaped: Rich must print ``[/x]`` or
    ``[link=...]`` from a file literally, not read it as markup (or crash on it).
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from ..errors import ConfigError, DataError, ModelError

        try:
            return func(*args, **kwargs)
        except DataError as exc:
            err_console.print(
                f"[bold red]error:[/] {escape(str(exc))}", markup=True, soft_wrap=True
            )
            raise typer.Exit(Exit.DATA) from None
        except ConfigError as exc:
            err_console.print(
                f"[bold red]config error:[/] {escape(str(exc))}", markup=True, soft_wrap=True
            )
            raise typer.Exit(Exit.CONFIG) from None
        except ModelError as exc:
            err_console.print(
                f"[bold red]model error:[/] {escape(str(exc))}", markup=True, soft_wrap=True
            )
            raise typer.Exit(Exit.MODEL) from None
        except FileNotFoundError as exc:
            err_console.print(
                f"[bold red]error:[/] file not found: {escape(str(exc.filename or exc))}",
                markup=True,
            )
            raise typer.Exit(Exit.DATA) from None

    return wrapper


def is_quiet(quiet: bool) -> bool:
    return quiet or not sys.stderr.isatty()

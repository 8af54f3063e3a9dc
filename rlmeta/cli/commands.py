"""Registry of CLI command modules (import order = order in ``rlmeta --help``)."""

from __future__ import annotations

import importlib

for _name in ("report", "ingest", "compare", "effects", "pool", "sensitivity", "validate"):
    try:
        importlib.import_module(f"rlmeta.cli.cmd_{_name}")
    except ModuleNotFoundError as exc:  # a command module not written yet
        if exc.name != f"rlmeta.cli.cmd_{_name}":
            raise

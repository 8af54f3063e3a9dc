"""Clear the outputs of notebooks before committing them (tests/test_notebooks.py requires it).

Usage::

    python scripts/clear_notebooks.py                 # every notebook in notebooks/
    python scripts/clear_notebooks.py path.ipynb ...  # the given notebooks

Removes outputs, execution counts and per-cell execution metadata; everything else (sources,
cell ids, kernelspec) is kept.  Needs only nbformat (part of the ``test`` extra).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def clear(path: Path) -> bool:
    """Clear one notebook in place; True when it changed."""
    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if cell.get("outputs") or cell.get("execution_count") is not None:
            changed = True
        cell["outputs"] = []
        cell["execution_count"] = None
        if "execution" in cell.get("metadata", {}):
            del cell["metadata"]["execution"]
            changed = True
    if changed:
        nbformat.write(nb, path)
    return changed


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for p in paths:
        print(f"{'cleared' if clear(p) else 'clean  '}  {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

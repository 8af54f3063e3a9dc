"""The tutorial notebooks: committed clean, and executed top to bottom in a fresh kernel.

Each notebook runs with nbclient in a new ``python3`` kernel whose working directory is a
temporary folder (so a notebook cannot depend on, or write into, the repository) and with the
repository on ``PYTHONPATH`` (so a source checkout works without installation).  Any cell
error fails the test; one test per notebook lets ``pytest -n auto`` run them in parallel.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXPECTED = {"01_quickstart", "02_from_harness_logs", "03_robustness", "04_sweeps"}
# Seconds per cell: generous for loaded CI machines.  Each notebook takes well under a minute;
# speed is asserted in benchmarks, never in timed unit tests, so this only stops
# a hung kernel.
CELL_TIMEOUT = 600


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def test_the_tutorials_exist():
    assert EXPECTED <= {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    """Notebooks are committed clean: no outputs, no execution counts, a python3 kernel."""
    nb = _read(path)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", path.name
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, (
        f"{path.name}: cells {dirty} have outputs or execution counts; clear them before committing "
        f"(python scripts/clear_notebooks.py {path.relative_to(ROOT)})"
    )
    assert (
        nb.cells and nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    ), f"{path.name} must open with a markdown title"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # the kernel inherits this environment: the source tree importable, no GUI backend
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    )
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = _read(path)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors

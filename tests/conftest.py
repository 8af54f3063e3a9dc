"""Shared fixtures: golden files, the shared fixtures folder, figure cleanup."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REF = Path(__file__).parent / "reference"
SHARED_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "evals"


def load_golden(name: str) -> dict:
    with open(REF / name) as fh:
        return json.load(fh)


@pytest.fixture(scope="session")
def golden_escalc() -> dict:
    return load_golden("golden_escalc.json")


@pytest.fixture(scope="session")
def golden_rma() -> dict:
    return load_golden("golden_rma.json")


@pytest.fixture(scope="session")
def shared_evals() -> Path:
    """The real harness files in ../shared/fixtures/evals (skip when absent)."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip("../shared/fixtures/evals not present")
    return SHARED_FIXTURES


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    if "matplotlib.pyplot" in __import__("sys").modules:
        import matplotlib.pyplot as plt

        plt.close("all")


def pytest_configure(config):
    os.environ.setdefault("MPLBACKEND", "Agg")

"""Run the docstring examples of every rlmeta module (one test per module, so xdist spreads them).

Some modules already run their own examples from their test files; they are listed in
``ELSEWHERE`` with the file that runs them and are not run twice.  A guard test checks that
each of those files still names the module, so a module can never drop out of both places.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import warnings
from pathlib import Path

import pytest

import rlmeta

TESTS = Path(__file__).resolve().parent
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

#: Modules whose examples another test file runs -> that file.
ELSEWHERE: dict[str, str] = {
    **{
        f"rlmeta.plots.{m}": "test_plots_save.py"
        for m in (
            "_theme",
            "_base",
            "_forestdraw",
            "_save",
            "forest",
            "funnel",
            "distributions",
            "heatmap",
            "sweeps",
            "regression",
            "sensitivity",
            "multiverse",
            "explore",
        )
    },
    "rlmeta.explore": "test_explore.py",
    "rlmeta.interaction": "test_interaction.py",
    "rlmeta.regression": "test_regression.py",
    "rlmeta.datasets.simulate": "test_regression.py",
    "rlmeta.stability": "test_stability.py",
    "rlmeta.io.sweeps": "test_sweeps_io.py",
}


def _all_modules() -> list[str]:
    names = ["rlmeta"] + [m.name for m in pkgutil.walk_packages(rlmeta.__path__, "rlmeta.")]
    return sorted(set(names))


def _covered_by_sensitivity_test(name: str) -> bool:
    # tests/test_sensitivity_doctests.py runs rlmeta.sensitivity and rlmeta.bias and their modules
    return name.split(".")[:2] in (["rlmeta", "sensitivity"], ["rlmeta", "bias"])


ALL = _all_modules()
HERE = [n for n in ALL if n not in ELSEWHERE and not _covered_by_sensitivity_test(n)]


@pytest.mark.parametrize("name", HERE)
def test_module_doctests(name):
    mod = importlib.import_module(name)
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for test in finder.find(mod, name):
            runner.run(test)
    res = runner.summarize(verbose=False)
    assert res.failed == 0, f"{res.failed} of {res.attempted} examples failed in {name}"


def test_every_module_is_run_somewhere():
    """Each module is run here, or by the file named in ELSEWHERE (which still names it)."""
    for name in ALL:
        if name in HERE:
            continue
        if _covered_by_sensitivity_test(name):
            text = (TESTS / "test_sensitivity_doctests.py").read_text()
            assert "rlmeta.sensitivity" in text and "rlmeta.bias" in text
            continue
        text = (TESTS / ELSEWHERE[name]).read_text()
        short = name.rsplit(".", 1)[1]
        assert name in text or (name.startswith("rlmeta.plots.") and f'"{short}"' in text), (
            f"{ELSEWHERE[name]} no longer runs the examples of {name}: remove it from ELSEWHERE"
        )
    assert not set(ELSEWHERE) - set(ALL), "ELSEWHERE names modules that no longer exist"


def test_the_package_has_examples():
    """The public entry points keep at least one runnable example each."""
    for name in (
        "rlmeta",
        "rlmeta.effects",
        "rlmeta.meta.fit",
        "rlmeta.pairing",
        "rlmeta.io",
        "rlmeta.evalstats",
        "rlmeta.report",
    ):
        mod = importlib.import_module(name)
        assert any(t.examples for t in doctest.DocTestFinder().find(mod, name)), name
